package service

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// rig is a scratch root with systemd's marker directory. systemctl is recorded,
// not run: this machine (and CI containers) boot without systemd, so enabling
// a unit cannot happen here; groupadd is the real one, under --prefix.
type rig struct {
	sd    systemd
	calls []string
}

func newRig(t *testing.T) *rig {
	t.Helper()
	root := t.TempDir()
	for _, d := range []string{"run/systemd/system", "etc"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []string{"group", "gshadow", "passwd", "login.defs"} {
		if b, err := os.ReadFile(filepath.Join("/etc", f)); err == nil {
			// The scratch root must not already have our group.
			var keep []string
			for _, l := range strings.Split(string(b), "\n") {
				if !strings.HasPrefix(l, Group+":") {
					keep = append(keep, l)
				}
			}
			if err := os.WriteFile(filepath.Join(root, "etc", f), []byte(strings.Join(keep, "\n")), 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}
	r := &rig{}
	r.sd = systemd{
		root:        root,
		systemctl:   func(args ...string) error { r.calls = append(r.calls, strings.Join(args, " ")); return nil },
		groupadd:    runGroupadd,
		lookupGroup: groupExists,
		euid:        0,
	}
	return r
}

func needGroupadd(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("groupadd --prefix needs root: runs as root in `make test`")
	}
	if _, err := exec.LookPath("groupadd"); err != nil {
		t.Skip("groupadd (package passwd) is not installed")
	}
}

func TestInstallWritesTheUnitCreatesTheGroupAndStarts(t *testing.T) {
	needGroupadd(t)
	r := newRig(t)
	spec := Spec{Executable: "/usr/local/bin/ghostwire", Args: []string{"daemon"}}
	if err := r.sd.install(spec); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(r.sd.adminUnit())
	if err != nil {
		t.Fatal(err)
	}
	want, _ := SystemdUnit(spec, installedByCommand)
	if string(b) != want {
		t.Errorf("installed unit differs from SystemdUnit:\n%s", b)
	}
	if !groupExists(r.sd.root, Group) {
		t.Error("the ghostwire group was not created")
	}
	if got := strings.Join(r.calls, "; "); got != "daemon-reload; enable --now ghostwire.service" {
		t.Errorf("systemctl calls: %s", got)
	}
	// Again: idempotent, the group is not added twice.
	if err := r.sd.install(spec); err != nil {
		t.Fatalf("second install: %v", err)
	}

	r.calls = nil
	if err := r.sd.uninstall(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(r.sd.adminUnit()); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("unit still there after uninstall: %v", err)
	}
	if got := strings.Join(r.calls, "; "); got != "disable --now ghostwire.service; daemon-reload" {
		t.Errorf("systemctl calls: %s", got)
	}
	if err := r.sd.uninstall(); err == nil || !strings.Contains(err.Error(), "not installed") {
		t.Errorf("second uninstall: %v", err)
	}
}

func TestInstallDefersToThePackagesUnit(t *testing.T) {
	needGroupadd(t)
	r := newRig(t)
	vendor := filepath.Join(r.sd.root, "usr/lib/systemd/system", UnitFile)
	pkgUnit, _ := SystemdUnit(Spec{Executable: "/usr/bin/ghostwire", Args: []string{"daemon"}}, InstalledByPackageComment)
	if err := writeAtomic(vendor, pkgUnit, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := r.sd.install(Spec{Executable: "/usr/bin/ghostwire", Args: []string{"daemon"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(r.sd.adminUnit()); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("install must not shadow the package's unit with a copy in /etc: %v", err)
	}
	err := r.sd.uninstall()
	if err == nil || !strings.Contains(err.Error(), "remove the package") {
		t.Errorf("uninstall of the package's service must point at the package manager: %v", err)
	}
	if b, _ := os.ReadFile(vendor); string(b) != pkgUnit {
		t.Error("the package's unit was changed")
	}
}

func TestUninstallLeavesForeignUnitsAlone(t *testing.T) {
	r := newRig(t)
	if err := writeAtomic(r.sd.adminUnit(), "[Service]\nExecStart=/bin/true\n", 0o644); err != nil {
		t.Fatal(err)
	}
	if err := r.sd.uninstall(); err == nil || !strings.Contains(err.Error(), "not written by") {
		t.Errorf("uninstall must refuse a unit it did not write: %v", err)
	}
	if _, err := os.Stat(r.sd.adminUnit()); err != nil {
		t.Errorf("foreign unit removed: %v", err)
	}
	if len(r.calls) != 0 {
		t.Errorf("systemctl called: %v", r.calls)
	}
}

func TestInstallRefusesWithoutRootOrSystemd(t *testing.T) {
	r := newRig(t)
	r.sd.euid = 1000
	if err := r.sd.install(Spec{Executable: "/usr/bin/ghostwire"}); err == nil || !strings.Contains(err.Error(), "sudo") {
		t.Errorf("non-root: %v", err)
	}
	r.sd.euid = 0
	if err := os.RemoveAll(filepath.Join(r.sd.root, "run/systemd")); err != nil {
		t.Fatal(err)
	}
	if err := r.sd.install(Spec{Executable: "/usr/bin/ghostwire"}); err == nil || !strings.Contains(err.Error(), "does not run systemd") {
		t.Errorf("no systemd: %v", err)
	}
	if _, err := os.Stat(r.sd.adminUnit()); !errors.Is(err, os.ErrNotExist) {
		t.Error("a refused install wrote the unit")
	}
}

// systemd's own checker accepts the unit without a single warning (an unknown
// or misspelt directive is only a warning for systemd, so any output fails).
func TestSystemdAnalyzeVerify(t *testing.T) {
	if _, err := exec.LookPath("systemd-analyze"); err != nil {
		if testing.Short() {
			t.Skip("systemd-analyze is not installed (package systemd; `make deps` installs it)")
		}
		t.Fatal("systemd-analyze is missing: run `make deps` (package systemd)")
	}
	dir := t.TempDir()
	exe, err := os.Executable() // any existing program will do for ExecStart
	if err != nil {
		t.Fatal(err)
	}
	u, err := SystemdUnit(Spec{Executable: exe, Args: []string{"daemon"}}, installedByCommand)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, UnitFile)
	if err := os.WriteFile(p, []byte(u), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("systemd-analyze", "verify", p).CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "" {
		t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
	}
	out, err = exec.Command("systemd-analyze", "security", "--offline=true", "--threshold=30", p).CombinedOutput()
	if err != nil {
		t.Fatalf("systemd-analyze security above the threshold (3.0): %v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	t.Logf("%s", lines[len(lines)-1])
}
