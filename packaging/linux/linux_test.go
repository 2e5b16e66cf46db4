package linux

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/ghostwire/ghostwire/packaging/release"
)

var testVersion = release.Version{Major: 1, Minor: 4, Tag: "v1.4.0", Commits: 3, Hash: "1a2b3c4d5e6f", Time: time.Unix(1_700_000_000, 0).UTC()}

func need(t *testing.T, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed (`make deps` installs it)", tool)
		}
	}
}

// fakeBinary stands in for the Go program: these tests are about the package
// around it (the system test installs the real one).
func fakeBinary(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "ghostwire")
	if err := os.WriteFile(p, []byte("#!/bin/sh\necho ghostwire test\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

func build(t *testing.T, format, binary string) string {
	t.Helper()
	dist := t.TempDir()
	name, err := Package(t.TempDir(), dist, testVersion, release.Target{Format: format, OS: "linux", Arch: "amd64", Builder: "linux"}, binary)
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(dist, name)
}

func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// listTree maps every file under root (as an absolute path in the package) to its mode.
func listTree(t *testing.T, root string) map[string]os.FileMode {
	t.Helper()
	files := map[string]os.FileMode{}
	err := filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
		if err != nil || fi.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		files["/"+rel] = fi.Mode().Perm()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// checkPayload compares what a package unpacked to with what it must hold.
func checkPayload(t *testing.T, format, root, binary string) {
	t.Helper()
	want, err := Files(format)
	if err != nil {
		t.Fatal(err)
	}
	got := listTree(t, root)
	for dst, text := range want {
		b, err := os.ReadFile(filepath.Join(root, dst))
		if err != nil {
			t.Errorf("%s: %s missing", format, dst)
			continue
		}
		if string(b) != text {
			t.Errorf("%s: %s differs from what the program renders:\n%s", format, dst, b)
		}
		if got[dst] != 0o644 {
			t.Errorf("%s: %s has mode %v", format, dst, got[dst])
		}
	}
	bin, _ := os.ReadFile(binary)
	if b, _ := os.ReadFile(filepath.Join(root, BinPath)); !bytes.Equal(b, bin) || got[BinPath] != 0o755 {
		t.Errorf("%s: %s is not the binary, or not 0755 (%v)", format, BinPath, got[BinPath])
	}
	var man int
	for p := range got {
		if strings.HasPrefix(p, ManDir+"/ghostwire") && strings.HasSuffix(p, ".1.gz") {
			man++
		}
	}
	if man < 5 {
		t.Errorf("%s: %d manual pages", format, man)
	}
	// The unit is where systemd of that family looks.
	if _, ok := got[UnitPath(format)]; !ok {
		t.Errorf("%s: no unit at %s", format, UnitPath(format))
	}
}

func TestDebReadBack(t *testing.T) {
	need(t, "dpkg-deb")
	bin := fakeBinary(t)
	deb := build(t, "deb", bin)
	if filepath.Base(deb) != "ghostwire_1.4.0+git3.1a2b3c4d5e6f_amd64.deb" {
		t.Errorf("file name %s", filepath.Base(deb))
	}
	fields := run(t, "dpkg-deb", "-f", deb, "Package", "Version", "Architecture", "Depends", "Section", "Maintainer")
	for _, want := range []string{"Package: ghostwire", "Version: 1.4.0+git3.1a2b3c4d5e6f", "Architecture: amd64",
		"Depends: init-system-helpers (>= 1.54~), passwd", "Section: net"} {
		if !strings.Contains(fields, want+"\n") {
			t.Errorf("control lacks %q:\n%s", want, fields)
		}
	}
	root := t.TempDir()
	run(t, "dpkg-deb", "-R", deb, root)
	checkPayload(t, "deb", root, bin)
	if b, _ := os.ReadFile(filepath.Join(root, "DEBIAN/conffiles")); strings.TrimSpace(string(b)) != AutostartPath {
		t.Errorf("conffiles: %q", b)
	}
	for _, s := range []string{"postinst", "prerm", "postrm"} {
		want, _ := scripts.ReadFile("scripts/deb/" + s)
		got, err := os.ReadFile(filepath.Join(root, "DEBIAN", s))
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("DEBIAN/%s differs from scripts/deb/%s: %v", s, s, err)
		}
	}
	if _, err := os.Stat(filepath.Join(root, "DEBIAN/preinst")); !os.IsNotExist(err) {
		t.Error("no preinst expected")
	}
	if b, _ := os.ReadFile(filepath.Join(root, LintianOverridesPath)); !strings.Contains(string(b), "statically-linked-binary [usr/bin/ghostwire]") {
		t.Errorf("lintian override: %q", b)
	}
}

func TestRPMReadBack(t *testing.T) {
	need(t, "rpm", "rpm2cpio", "cpio")
	bin := fakeBinary(t)
	r := build(t, "rpm", bin)
	if filepath.Base(r) != "ghostwire-1.4.0+git3.1a2b3c4d5e6f-1.x86_64.rpm" {
		t.Errorf("file name %s", filepath.Base(r))
	}
	if out := run(t, "rpm", "-K", "--nosignature", r); !strings.Contains(out, "digests OK") {
		t.Errorf("rpm -K: %s", out)
	}
	q := run(t, "rpm", "-qp", "--qf", "%{NAME}|%{VERSION}|%{RELEASE}|%{ARCH}|%{LICENSE}|%{URL}\n", r)
	if q != "ghostwire|1.4.0+git3.1a2b3c4d5e6f|1|x86_64|UNLICENSED|"+release.Homepage+"\n" {
		t.Errorf("rpm header: %q", q)
	}
	if req := run(t, "rpm", "-qp", "--requires", r); !strings.Contains(req, "shadow-utils") {
		t.Errorf("requires: %s", req)
	}
	cfg := run(t, "rpm", "-qp", "--qf", "[%{FILENAMES} %{FILEFLAGS:fflags}\n]", r)
	if !strings.Contains(cfg, AutostartPath+" cn\n") {
		t.Errorf("%s must be %%config(noreplace):\n%s", AutostartPath, cfg)
	}
	sc := run(t, "rpm", "-qp", "--scripts", r)
	for hook, file := range map[string]string{"postinstall": "post", "preuninstall": "preun", "postuninstall": "postun"} {
		body, _ := scripts.ReadFile("scripts/rpm/" + file)
		if !strings.Contains(sc, hook+" scriptlet (using /bin/sh):\n"+string(body)) {
			t.Errorf("%s scriptlet is not scripts/rpm/%s:\n%s", hook, file, sc)
		}
	}
	root := t.TempDir()
	cmd := exec.Command("sh", "-c", `rpm2cpio "$1" | cpio -idm --quiet --no-absolute-filenames`, "sh", r)
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("rpm2cpio | cpio: %v\n%s", err, out)
	}
	checkPayload(t, "rpm", root, bin)
	if _, err := os.Stat(filepath.Join(root, LintianOverridesPath)); !os.IsNotExist(err) {
		t.Error("the rpm carries lintian's override")
	}
}

// The same commit gives the same bytes (times come from the commit, gzip and
// tar headers carry no build time or name).
func TestPackagesAreReproducible(t *testing.T) {
	bin := fakeBinary(t)
	for _, f := range []string{"deb", "rpm"} {
		a, _ := os.ReadFile(build(t, f, bin))
		time.Sleep(1100 * time.Millisecond) // a second later, in case anything used the clock
		b, _ := os.ReadFile(build(t, f, bin))
		if !bytes.Equal(a, b) {
			t.Errorf("%s: two builds of the same input differ", f)
		}
	}
}

func TestDesktopEntriesValidate(t *testing.T) {
	need(t, "desktop-file-validate")
	files, _ := Files("deb")
	var names []string
	for dst := range files {
		if strings.HasSuffix(dst, ".desktop") {
			names = append(names, dst)
		}
	}
	sort.Strings(names)
	if len(names) != 3 {
		t.Fatalf("desktop entries: %v", names)
	}
	for _, dst := range names {
		p := filepath.Join(t.TempDir(), filepath.Base(dst))
		os.WriteFile(p, []byte(files[dst]), 0o644)
		if out, err := exec.Command("desktop-file-validate", p).CombinedOutput(); err != nil || len(out) > 0 {
			t.Errorf("%s: %v\n%s", dst, err, out)
		}
	}
}

func TestScriptsShellcheck(t *testing.T) {
	need(t, "shellcheck")
	for _, f := range []string{"deb/postinst", "deb/prerm", "deb/postrm", "rpm/post", "rpm/preun", "rpm/postun"} {
		body, _ := scripts.ReadFile("scripts/" + f)
		cmd := exec.Command("shellcheck", "-s", "sh", "-S", "style", "-")
		cmd.Stdin = bytes.NewReader(body)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("shellcheck %s: %v\n%s", f, err, out)
		}
	}
}
