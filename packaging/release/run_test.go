package release

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// fakeBuilder writes a small file per target, holding one real Go program
// (so the pinned cyclonedx-gomod reads real build information).
type fakeBuilder struct {
	bin  Binary
	test []string
}

func (f fakeBuilder) Build(ctx context.Context, b *Build, targets []Target) ([]Artifact, error) {
	var arts []Artifact
	for _, t := range targets {
		name := t.FileName(b.Version)
		if err := os.WriteFile(filepath.Join(b.Dist, name), []byte("installer of "+t.String()), 0o644); err != nil {
			return nil, err
		}
		arts = append(arts, Artifact{File: name, Format: t.Format, OS: t.OS, Arch: t.Arch, Binaries: []Binary{f.bin}, TestBuild: f.test})
	}
	return arts, nil
}

// helloBinary builds a tiny Go program once per test binary.
func helloBinary(t *testing.T) Binary {
	t.Helper()
	dir := t.TempDir()
	files := map[string]string{
		"go.mod":  "module example.com/hello\n\ngo 1.22\n",
		"main.go": "package main\n\nimport \"fmt\"\n\nfunc main() { fmt.Println(\"hello\") }\n",
	}
	for n, c := range files {
		if err := os.WriteFile(filepath.Join(dir, n), []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	out := filepath.Join(dir, "hello")
	cmd := exec.Command("go", "build", "-trimpath", "-o", out, ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if o, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, o)
	}
	sum, err := FileSHA256(out)
	if err != nil {
		t.Fatal(err)
	}
	return Binary{Name: "hello", Main: ".", GOOS: "linux", GOARCH: "amd64", SHA256: sum, Path: out}
}

func newBuild(t *testing.T, v Version) *Build {
	root, _ := filepath.Abs("../..")
	return &Build{Version: v, Root: root, Dist: t.TempDir(), Work: t.TempDir(),
		Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
}

func TestRunWritesSumsSBOMsAndManifest(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the pinned cyclonedx-gomod (go tool): in the system pass")
	}
	bin := helloBinary(t)
	v := Version{Major: 1, Minor: 4, Tag: "v1.4.0", Commits: 2, Hash: "1a2b3c4d5e6f", Dirty: true, Time: time.Unix(1_700_000_000, 0).UTC()}
	b := newBuild(t, v)
	// A leftover of an earlier build goes; a file that is not ours stays.
	os.WriteFile(filepath.Join(b.Dist, "ghostwire_0.1_amd64.deb"), []byte("old"), 0o644)
	os.WriteFile(filepath.Join(b.Dist, "notes.txt"), []byte("mine"), 0o644)

	m, err := Run(context.Background(), b, map[string]Builder{"linux": fakeBuilder{bin: bin}},
		func(t Target) bool { return t.Arch == "amd64" })
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Artifacts) != 2 {
		t.Fatalf("artifacts: %+v", m.Artifacts)
	}
	if _, err := os.Stat(filepath.Join(b.Dist, "ghostwire_0.1_amd64.deb")); !os.IsNotExist(err) {
		t.Error("an old package was left in dist")
	}
	if _, err := os.Stat(filepath.Join(b.Dist, "notes.txt")); err != nil {
		t.Error("a file that is not ours was removed from dist")
	}
	// Every target is accounted for: built, not selected, or without a builder.
	if got := len(m.Artifacts) + len(m.NotBuilt); got != len(Targets) {
		t.Errorf("%d built + %d not built != %d targets: %v", len(m.Artifacts), len(m.NotBuilt), len(Targets), m.NotBuilt)
	}
	if !strings.Contains(strings.Join(m.NotBuilt, "\n"), `no "windows" builder`) {
		t.Errorf("the MSI must be listed as not built: %v", m.NotBuilt)
	}
	// coreutils agrees with SHA256SUMS.
	cmd := exec.Command("sha256sum", "--strict", "-c", SumsFile)
	cmd.Dir = b.Dist
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("sha256sum -c: %v\n%s", err, out)
	}
	if err := VerifySums(b.Dist); err != nil {
		t.Fatal(err)
	}
	// The SBOM describes the artifact and what its program was built from.
	for _, a := range m.Artifacts {
		raw, err := os.ReadFile(filepath.Join(b.Dist, a.SBOM))
		if err != nil {
			t.Fatal(err)
		}
		var sbom struct {
			BOMFormat   string `json:"bomFormat"`
			SpecVersion string `json:"specVersion"`
			Metadata    struct {
				Timestamp string `json:"timestamp"`
				Component struct {
					Name, Version, Purl string
					Hashes              []struct{ Alg, Content string }
				} `json:"component"`
			} `json:"metadata"`
			Components []struct {
				Name, Version, Purl, Type string
				Hashes                    []struct{ Alg, Content string }
			} `json:"components"`
		}
		if err := json.Unmarshal(raw, &sbom); err != nil {
			t.Fatal(err)
		}
		c := sbom.Metadata.Component
		if sbom.BOMFormat != "CycloneDX" || sbom.SpecVersion != "1.6" || c.Name != "ghostwire" ||
			len(c.Hashes) != 1 || c.Hashes[0].Content != a.SHA256 || sbom.Metadata.Timestamp != "2023-11-14T22:13:20Z" {
			t.Errorf("%s: SBOM subject %+v (%s %s %s)", a.File, c, sbom.BOMFormat, sbom.SpecVersion, sbom.Metadata.Timestamp)
		}
		wantPurl := map[string]string{"deb": "pkg:deb/ghostwire/ghostwire@1.4.0+git2.1a2b3c4d5e6f.dirty?arch=amd64",
			"rpm": "pkg:rpm/ghostwire/ghostwire@1.4.0+git2.1a2b3c4d5e6f.dirty-1?arch=x86_64"}[a.Format]
		if c.Purl != wantPurl {
			t.Errorf("purl %s, want %s", c.Purl, wantPurl)
		}
		var app, std bool
		for _, comp := range sbom.Components {
			app = app || (comp.Type == "application" && comp.Version == v.String() && len(comp.Hashes) == 1 && comp.Hashes[0].Content == bin.SHA256)
			std = std || (comp.Name == "std" && strings.HasPrefix(comp.Version, "go1."))
		}
		if !app || !std {
			t.Errorf("%s: SBOM must hold the program (with its hash) and the Go standard library: %s", a.File, raw)
		}
	}
	// A dirty tree is a test build, loudly.
	if tb, err := os.ReadFile(filepath.Join(b.Dist, TestBuildFile)); err != nil || !strings.Contains(string(tb), "uncommitted") {
		t.Errorf("TEST-BUILD.txt: %q %v", tb, err)
	}
	if err := Publishable(b.Dist); err == nil || !strings.Contains(err.Error(), "test build") {
		t.Errorf("a dirty partial build must not be publishable: %v", err)
	}
}

func TestPublishable(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the pinned cyclonedx-gomod (go tool): in the system pass")
	}
	bin := helloBinary(t)
	v := Version{Major: 2, Tag: "v2.0.0", Hash: "abcdefabcdef", Time: time.Unix(1_700_000_000, 0).UTC()}
	every := map[string]Builder{}
	for _, tg := range Targets {
		every[tg.Builder] = fakeBuilder{bin: bin}
	}
	b := newBuild(t, v)
	if _, err := Run(context.Background(), b, every, nil); err != nil {
		t.Fatal(err)
	}
	if err := Publishable(b.Dist); err != nil {
		t.Fatalf("a clean tagged build of every target must be publishable: %v", err)
	}
	if _, err := os.Stat(filepath.Join(b.Dist, TestBuildFile)); !os.IsNotExist(err) {
		t.Error("TEST-BUILD.txt in a release")
	}
	// One changed byte after the build.
	m, _ := LoadManifest(b.Dist)
	p := filepath.Join(b.Dist, m.Artifacts[0].File)
	raw, _ := os.ReadFile(p)
	raw[0] ^= 1
	os.WriteFile(p, raw, 0o644)
	if err := Publishable(b.Dist); err == nil || !strings.Contains(err.Error(), "does not match") {
		t.Errorf("a changed file must be caught: %v", err)
	}

	// A builder that marks its artifact (e.g. signed with a throwaway certificate).
	every["windows"] = fakeBuilder{bin: bin, test: []string{"signed with a throwaway certificate"}}
	b = newBuild(t, v)
	if _, err := Run(context.Background(), b, every, nil); err != nil {
		t.Fatal(err)
	}
	err := Publishable(b.Dist)
	if err == nil || !strings.Contains(err.Error(), "throwaway") {
		t.Errorf("a test-build artifact must not be publishable: %v", err)
	}

	// Not a release: past the tag.
	v.Commits = 3
	b = newBuild(t, v)
	if _, err := Run(context.Background(), b, map[string]Builder{"linux": fakeBuilder{bin: bin}, "windows": fakeBuilder{bin: bin}, "macos": fakeBuilder{bin: bin}}, nil); err != nil {
		t.Fatal(err)
	}
	if err := Publishable(b.Dist); err == nil || !strings.Contains(err.Error(), "not a release") {
		t.Errorf("a build past the tag must not be publishable: %v", err)
	}
}
