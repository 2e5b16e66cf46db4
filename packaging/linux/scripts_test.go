package linux

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The maintainer scripts decide when the service starts, restarts and stops.
// systemd does not run on this machine (nor in CI containers), so each script
// runs in a private mount namespace where /run (and /var/lib) are empty
// tmpfs, /run/systemd/system exists when the scenario says systemd runs, and
// systemctl, deb-systemd-helper, deb-systemd-invoke, getent, groupadd and
// groupdel are stubs that record their arguments. The host is not touched.
// The real dpkg install/purge is TestSystemDebInstalledEndToEnd.

type scenario struct {
	script  string // scripts/<format>/<name>
	args    []string
	systemd bool // /run/systemd/system exists
	group   bool // the ghostwire group exists
	want    []string
}

func TestMaintainerScripts(t *testing.T) {
	if testing.Short() || os.Geteuid() != 0 {
		t.Skip("needs root for a private mount namespace (unshare -m): runs in `make test`")
	}
	need(t, "unshare")
	for _, sc := range []scenario{
		// deb: fresh install with systemd → group, enable, start.
		{"deb/postinst", []string{"configure", ""}, true, false, []string{
			"groupadd --system ghostwire",
			"deb-systemd-helper unmask ghostwire.service",
			"deb-systemd-helper --quiet was-enabled ghostwire.service",
			"deb-systemd-helper enable ghostwire.service",
			"systemctl --system daemon-reload",
			"deb-systemd-invoke start ghostwire.service"}},
		// deb: upgrade from 1.3.0 → restart with the new binary; the group is there.
		{"deb/postinst", []string{"configure", "1.3.0"}, true, true, []string{
			"deb-systemd-helper unmask ghostwire.service",
			"deb-systemd-helper --quiet was-enabled ghostwire.service",
			"deb-systemd-helper enable ghostwire.service",
			"systemctl --system daemon-reload",
			"deb-systemd-invoke restart ghostwire.service"}},
		// deb: no systemd (a container, this machine) → enabled for later, nothing started.
		{"deb/postinst", []string{"configure", ""}, false, false, []string{
			"groupadd --system ghostwire",
			"deb-systemd-helper unmask ghostwire.service",
			"deb-systemd-helper --quiet was-enabled ghostwire.service",
			"deb-systemd-helper enable ghostwire.service"}},
		{"deb/prerm", []string{"remove"}, true, true, []string{"deb-systemd-invoke stop ghostwire.service"}},
		{"deb/prerm", []string{"upgrade", "1.5.0"}, true, true, nil}, // keeps running until postinst restarts it
		{"deb/postrm", []string{"remove"}, true, true, []string{
			"systemctl --system daemon-reload",
			"deb-systemd-helper mask ghostwire.service"}},
		{"deb/postrm", []string{"purge"}, false, true, []string{
			"deb-systemd-helper purge ghostwire.service",
			"deb-systemd-helper unmask ghostwire.service",
			"groupdel ghostwire"}},
		{"deb/postrm", []string{"upgrade", "1.5.0"}, true, true, nil},
		// rpm: $1 counts the installed versions after the transaction.
		{"rpm/post", []string{"1"}, true, false, []string{
			"groupadd --system ghostwire",
			"systemctl daemon-reload",
			"systemctl enable --now ghostwire.service"}},
		{"rpm/post", []string{"2"}, true, true, []string{"systemctl daemon-reload"}},
		{"rpm/preun", []string{"0"}, true, true, []string{"systemctl disable --now ghostwire.service"}},
		{"rpm/preun", []string{"1"}, true, true, nil},
		{"rpm/postun", []string{"1"}, true, true, []string{
			"systemctl daemon-reload",
			"systemctl try-restart ghostwire.service"}},
		{"rpm/postun", []string{"0"}, true, true, []string{
			"systemctl daemon-reload",
			"groupdel ghostwire"}},
		{"rpm/postun", []string{"0"}, false, true, []string{"groupdel ghostwire"}},
	} {
		name := sc.script + " " + strings.Join(sc.args, " ")
		if sc.systemd {
			name += " (systemd)"
		}
		t.Run(name, func(t *testing.T) {
			got := runScript(t, sc)
			if strings.Join(got, "\n") != strings.Join(sc.want, "\n") {
				t.Errorf("calls:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(sc.want, "\n  "))
			}
		})
	}
}

func runScript(t *testing.T, sc scenario) []string {
	t.Helper()
	dir := t.TempDir()
	stubs := filepath.Join(dir, "stubs")
	os.MkdirAll(stubs, 0o755)
	log := filepath.Join(dir, "calls")
	record := "#!/bin/sh\necho \"$(basename \"$0\") $*\" >> \"$CALLS\"\n"
	for _, s := range []string{"systemctl", "deb-systemd-helper", "deb-systemd-invoke", "groupadd", "groupdel"} {
		os.WriteFile(filepath.Join(stubs, s), []byte(record), 0o755)
	}
	exists := "1"
	if sc.group {
		exists = "0"
	}
	// getent is a lookup, not an action: answered, not recorded.
	os.WriteFile(filepath.Join(stubs, "getent"), []byte("#!/bin/sh\n[ \"$1 $2\" = \"group ghostwire\" ] && exit "+exists+"\nexit 2\n"), 0o755)
	body, err := scripts.ReadFile("scripts/" + sc.script)
	if err != nil {
		t.Fatal(err)
	}
	script := filepath.Join(dir, "script")
	os.WriteFile(script, body, 0o755)
	mkSystemd := ""
	if sc.systemd {
		mkSystemd = "mkdir -p /run/systemd/system && "
	}
	driver := "mount --make-rprivate / && mount -t tmpfs gwpkg-run /run && mount -t tmpfs gwpkg-varlib /var/lib && " +
		mkSystemd + `PATH="$STUBS:$PATH" sh -e "$SCRIPT" "$@"`
	cmd := exec.Command("unshare", append([]string{"--mount", "sh", "-c", driver, "driver"}, sc.args...)...)
	cmd.Env = append(os.Environ(), "STUBS="+stubs, "SCRIPT="+script, "CALLS="+log)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s %v: %v\n%s", sc.script, sc.args, err, out)
	}
	raw, _ := os.ReadFile(log)
	var calls []string
	for _, l := range strings.Split(strings.TrimSpace(string(raw)), "\n") {
		if l != "" {
			calls = append(calls, strings.TrimSpace(strings.ReplaceAll(l, "'", "")))
		}
	}
	return calls
}
