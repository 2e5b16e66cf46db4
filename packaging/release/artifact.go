package release

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Artifact is one file in dist/ that a release publishes.
type Artifact struct {
	File   string `json:"file"`
	Format string `json:"format"`
	OS     string `json:"os"`
	Arch   string `json:"arch"`
	SHA256 string `json:"sha256"`
	// SBOM is the file name of its CycloneDX SBOM in dist/.
	SBOM string `json:"sbom"`
	// Binaries are the Go programs inside: the SBOM lists their modules.
	Binaries []Binary `json:"binaries"`
	// TestBuild says why this artifact must not be published (a throwaway
	// signing certificate, a missing official component, ...). A builder
	// sets it; `release check` refuses to go on while any is set.
	TestBuild []string `json:"test_build,omitempty"`
}

// Binary is a Go program built for an artifact.
type Binary struct {
	// Name is its file name inside the artifact (ghostwire, ghostwire.exe).
	Name   string `json:"name"`
	Main   string `json:"main"` // the main package, e.g. ./app
	GOOS   string `json:"goos"`
	GOARCH string `json:"goarch"`
	SHA256 string `json:"sha256"`
	// Path is where it was built (not published).
	Path string `json:"-"`
}

// Manifest describes a dist/ directory: manifest.json.
type Manifest struct {
	Version string `json:"version"`
	Commit  string `json:"commit"`
	// Release is true only for a clean tree exactly at a release tag.
	Release   bool       `json:"release"`
	Artifacts []Artifact `json:"artifacts"`
	// TestBuild holds reasons that concern every artifact (a dirty tree).
	TestBuild []string `json:"test_build,omitempty"`
	// NotBuilt lists the targets of Targets this build did not make, and why.
	NotBuilt []string `json:"not_built,omitempty"`
}

// ManifestFile, SumsFile and TestBuildFile are the names in dist/.
const (
	ManifestFile  = "manifest.json"
	SumsFile      = "SHA256SUMS"
	TestBuildFile = "TEST-BUILD.txt"
)

// IsTestBuild reports whether anything in m must not be published, with the reasons.
func (m Manifest) IsTestBuild() (bool, []string) {
	reasons := append([]string(nil), m.TestBuild...)
	for _, a := range m.Artifacts {
		for _, r := range a.TestBuild {
			reasons = append(reasons, a.File+": "+r)
		}
	}
	return len(reasons) > 0, reasons
}

// Publishable refuses a dist/ that is not a release: a test build, a tree
// not exactly at a release tag, missing targets, or files that do not match
// SHA256SUMS.
func Publishable(dist string) error {
	m, err := LoadManifest(dist)
	if err != nil {
		return err
	}
	var problems []string
	if test, reasons := m.IsTestBuild(); test {
		problems = append(problems, "it is a test build: "+strings.Join(reasons, "; "))
	}
	if !m.Release {
		problems = append(problems, fmt.Sprintf("version %s is not a release (tag the commit vX.Y.Z and build from a clean tree)", m.Version))
	}
	for _, nb := range m.NotBuilt {
		problems = append(problems, "not built: "+nb)
	}
	if err := VerifySums(dist); err != nil {
		problems = append(problems, err.Error())
	}
	if len(problems) > 0 {
		return fmt.Errorf("%s must not be published:\n  - %s", dist, strings.Join(problems, "\n  - "))
	}
	return nil
}

// LoadManifest reads dist/manifest.json.
func LoadManifest(dist string) (Manifest, error) {
	var m Manifest
	b, err := os.ReadFile(filepath.Join(dist, ManifestFile))
	if errors.Is(err, os.ErrNotExist) {
		return m, fmt.Errorf("%s has no %s: run `make packages` first", dist, ManifestFile)
	}
	if err != nil {
		return m, err
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return m, fmt.Errorf("%s is damaged: %w", filepath.Join(dist, ManifestFile), err)
	}
	return m, nil
}

// writeManifest writes m (artifacts sorted by file) and, for a test build,
// TEST-BUILD.txt with the reasons, so nobody misses it.
func writeManifest(dist string, m Manifest) error {
	sort.Slice(m.Artifacts, func(i, j int) bool { return m.Artifacts[i].File < m.Artifacts[j].File })
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dist, ManifestFile), append(b, '\n'), 0o644); err != nil {
		return err
	}
	tb := filepath.Join(dist, TestBuildFile)
	if test, reasons := m.IsTestBuild(); test {
		text := "TEST BUILD: do not publish these files.\n\n- " + strings.Join(reasons, "\n- ") + "\n"
		return os.WriteFile(tb, []byte(text), 0o644)
	}
	if err := os.Remove(tb); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}
