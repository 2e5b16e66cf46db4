package linux

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ghostwire/ghostwire/app/localapi"
	"github.com/ghostwire/ghostwire/app/service"
	"github.com/ghostwire/ghostwire/e2e/helper"
	"github.com/ghostwire/ghostwire/e2e/topo"
	"github.com/ghostwire/ghostwire/internal/testenv"
	"github.com/ghostwire/ghostwire/packaging/release"
)

// The system tests take the packages from $GHOSTWIRE_DIST (`make
// test-packaging-system` builds dist/ first), or build them here. The e2e
// world needs ghostwire-server from $GWE_BIN_DIR and CoreDNS from
// $GWE_COREDNS, as the e2e tests do.

func TestMain(m *testing.M) {
	helper.Main() // the e2e world's small services run as this binary
	code := m.Run()
	if builtDist != "" {
		os.RemoveAll(builtDist)
	}
	os.Exit(code)
}

var (
	distOnce  sync.Once
	distDir   string
	distErr   error
	builtDist string
)

// dist returns a dist/ directory with this machine's deb and rpm.
func dist(t *testing.T) (string, release.Manifest) {
	t.Helper()
	distOnce.Do(func() {
		if d := os.Getenv("GHOSTWIRE_DIST"); d != "" {
			distDir = d
			return
		}
		builtDist, distErr = os.MkdirTemp("", "gwpkg-dist-")
		if distErr != nil {
			return
		}
		work := filepath.Join(builtDist, "work")
		distDir = filepath.Join(builtDist, "dist")
		root, _ := filepath.Abs("../..")
		var v release.Version
		if v, distErr = release.FromGit(context.Background(), root); distErr != nil {
			return
		}
		b := &release.Build{Version: v, Root: root, Dist: distDir, Work: work, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
		_, distErr = release.Run(context.Background(), b, map[string]release.Builder{"linux": Builder{}},
			func(t release.Target) bool { return t.Builder == "linux" && t.Arch == runtime.GOARCH })
	})
	if distErr != nil {
		t.Fatalf("building the packages: %v", distErr)
	}
	m, err := release.LoadManifest(distDir)
	if err != nil {
		t.Fatal(err)
	}
	return distDir, m
}

func artifact(t *testing.T, format string) (string, release.Artifact) {
	t.Helper()
	d, m := dist(t)
	for _, a := range m.Artifacts {
		if a.Format == format && a.Arch == runtime.GOARCH {
			return filepath.Join(d, a.File), a
		}
	}
	t.Fatalf("%s has no %s for %s: run `make packages`", d, format, runtime.GOARCH)
	return "", release.Artifact{}
}

// lintian reports nothing: no error, no warning (only the documented override).
func TestLintian(t *testing.T) {
	if testing.Short() {
		t.Skip("lintian takes ~15 s: in the system pass")
	}
	need(t, "lintian")
	deb, _ := artifact(t, "deb")
	out, err := exec.Command("lintian", "--fail-on", "error,warning", "--pedantic", deb).CombinedOutput()
	text := strings.TrimSpace(strings.ReplaceAll(string(out), "running with root privileges is not recommended!", ""))
	if err != nil || text != "" {
		t.Fatalf("lintian %s: %v\n%s", filepath.Base(deb), err, text)
	}
}

// The real rpm, read back: its payload is what the program renders, and the
// binary inside says the version the manifest says.
func TestSystemRPMReadBack(t *testing.T) {
	if testing.Short() {
		t.Skip("uses the built packages: in the system pass")
	}
	need(t, "rpm", "rpm2cpio", "cpio")
	r, a := artifact(t, "rpm")
	_, m := dist(t)
	if out := run(t, "rpm", "-K", "--nosignature", r); !strings.Contains(out, "digests OK") {
		t.Errorf("rpm -K: %s", out)
	}
	root := t.TempDir()
	cmd := exec.Command("sh", "-c", `rpm2cpio "$1" | cpio -idm --quiet --no-absolute-filenames`, "sh", r)
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("rpm2cpio | cpio: %v\n%s", err, out)
	}
	bin := filepath.Join(root, BinPath)
	if sum, _ := release.FileSHA256(bin); sum != a.Binaries[0].SHA256 {
		t.Errorf("the rpm's binary is not the one the manifest names")
	}
	checkPayload(t, "rpm", root, bin)
	if out := run(t, bin, "--version"); !strings.Contains(out, m.Version) {
		t.Errorf("ghostwire --version = %q, want %s", out, m.Version)
	}
}

// TestSystemDebInstalledEndToEnd installs the .deb on this machine with dpkg,
// checks the unit with systemd-analyze, starts the daemon the way the unit's
// ExecStart does (with the unit's capability bounding set, supplementary
// group, no-new-privileges and umask; systemd itself does not run here) in the
// laptop of the e2e world, connects with the installed binary as a member of
// the ghostwire group, curls the cluster through the tunnel, and purges the
// package: no file, unit, state or group may be left.
func TestSystemDebInstalledEndToEnd(t *testing.T) {
	testenv.RequireSystem(t, "dpkg", "dpkg-query", "systemd-analyze", "setpriv", "useradd", "userdel", "curl")
	deb, art := artifact(t, "deb")
	_, m := dist(t)
	if out, err := exec.Command("dpkg-query", "-W", "-f", "${Status}", "ghostwire").Output(); err == nil && strings.Contains(string(out), "installed") {
		t.Fatalf("a ghostwire package is already installed here (%s): this test installs and purges its own; remove it first (`dpkg -P ghostwire`)", out)
	}
	if _, err := user.LookupGroup(service.Group); err == nil {
		t.Fatalf("a %q group already exists: this test checks that the package creates and removes it; remove it first (`groupdel %s`)", service.Group, service.Group)
	}
	server := filepath.Join(os.Getenv("GWE_BIN_DIR"), "ghostwire-server")
	coredns := os.Getenv("GWE_COREDNS")
	for _, p := range []string{server, coredns} {
		if fi, err := os.Stat(p); err != nil || fi.IsDir() {
			t.Fatalf("%q is missing: set GWE_BIN_DIR (with ghostwire-server) and GWE_COREDNS, or run `make test-packaging-system`", p)
		}
	}
	ctx := context.Background()

	// 1. dpkg -i.
	debFiles := debPaths(t, deb)
	dpkg(t, "-i", deb)
	purged := false
	t.Cleanup(func() {
		if !purged {
			dpkg(t, "-P", "ghostwire")
		}
	})
	for _, p := range debFiles {
		if _, err := os.Lstat(p); err != nil {
			t.Errorf("installed package lacks %s: %v", p, err)
		}
	}
	want, _ := Files("deb")
	for dst, text := range want {
		if b, _ := os.ReadFile(dst); string(b) != text {
			t.Errorf("%s on disk differs from what the program renders", dst)
		}
	}
	if sum, _ := release.FileSHA256(BinPath); sum != art.Binaries[0].SHA256 {
		t.Errorf("the installed %s is not the binary the manifest names", BinPath)
	}
	if out := run(t, BinPath, "--version"); !strings.Contains(out, m.Version) {
		t.Errorf("installed ghostwire --version = %q, want %s", out, m.Version)
	}
	grp, err := user.LookupGroup(service.Group)
	if err != nil {
		t.Fatalf("the package did not create the %q group: %v", service.Group, err)
	}
	if target, err := os.Readlink("/etc/systemd/system/multi-user.target.wants/" + service.UnitFile); err != nil || target != DebUnitPath {
		t.Errorf("the service is not enabled for boot: %q %v", target, err)
	}

	// 2. systemd's checker on the installed unit: not a single warning.
	if out, err := exec.Command("systemd-analyze", "verify", DebUnitPath).CombinedOutput(); err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Errorf("systemd-analyze verify %s: %v\n%s", DebUnitPath, err, out)
	}
	if out, err := exec.Command("systemd-analyze", "security", "--offline=true", "--threshold=30", DebUnitPath).CombinedOutput(); err != nil {
		t.Errorf("systemd-analyze security: %v\n%s", err, out)
	} else {
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		t.Logf("systemd-analyze security: %s", lines[len(lines)-1])
	}

	// 3. The e2e world (the `make demo` topology) with the installed client.
	self, _ := os.Executable()
	dir := t.TempDir()
	tp, err := topo.New(topo.Options{Dir: dir, Clusters: 1, Logf: t.Logf,
		Bins: topo.Bins{Server: server, Client: BinPath, CoreDNS: coredns, Helper: self}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			var b strings.Builder
			tp.DumpLogs(&b, 4000)
			t.Log(b.String())
		}
		tp.Close()
	})
	c := tp.Clusters[0]
	if err := tp.StartServices(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := tp.StartIdP(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := tp.StartServer(ctx, c, topo.ServerOptions{}); err != nil {
		t.Fatal(err)
	}

	// 4. The organisation's preset (what config management would write), then
	// the daemon as the unit starts it.
	caPEM, err := os.ReadFile(tp.CA.CertFile)
	if err != nil {
		t.Fatal(err)
	}
	writePreset(t, fmt.Sprintf(`{"server": %q, "profile": "prod", "ca_pem": %q}`, c.ServerURL(), caPEM))
	unit := readUnit(t, DebUnitPath)
	daemon, args := startLikeTheUnit(t, tp, unit, grp)
	client := localapi.NewClient(localapi.SocketPath())
	waitDaemon(t, client, daemon)
	// Only the unit's capabilities, and the socket handed to the group.
	if eff := capEff(t, daemon.Pid()); eff != capMask(t, unit["CapabilityBoundingSet"]) {
		t.Errorf("daemon's effective capabilities %#x, want exactly %s", eff, unit["CapabilityBoundingSet"])
	}
	if fi, err := os.Stat(localapi.SocketPath()); err != nil {
		t.Fatal(err)
	} else if st := fi.Sys().(*syscall.Stat_t); fi.Mode().Perm() != 0o660 || strconv.Itoa(int(st.Gid)) != grp.Gid {
		t.Errorf("socket %s: mode %v gid %d, want 0660 and the %s group (%s)", localapi.SocketPath(), fi.Mode().Perm(), st.Gid, grp.Name, grp.Gid)
	}
	t.Logf("daemon started as the unit says: %s", strings.Join(args, " "))
	// The preset is a profile before anyone typed anything: the menu offers "Connect to prod".
	if st, err := client.Status(ctx); err != nil || len(st.Profiles) != 1 || st.Profiles[0].Name != "prod" ||
		st.Profiles[0].Server != c.ServerURL() || st.Profiles[0].State != localapi.StateDisconnected {
		t.Fatalf("the preset did not become the disconnected profile prod: %+v %v", st.Profiles, err)
	}

	// 5. A person in the ghostwire group connects with the installed binary.
	name := "gwpkg" + tp.Suffix
	if out, err := exec.Command("useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", "--groups", service.Group, name).CombinedOutput(); err != nil {
		t.Fatalf("useradd: %v\n%s", err, out)
	}
	t.Cleanup(func() { removeUser(t, name) })
	caDir, err := os.MkdirTemp("", "gwpkg-ca-") // readable by that person, unlike the test's own directories
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(caDir) })
	os.Chmod(caDir, 0o755)
	ca := filepath.Join(caDir, "ca.pem")
	if b, err := os.ReadFile(tp.CA.CertFile); err != nil {
		t.Fatal(err)
	} else if err := os.WriteFile(ca, b, 0o644); err != nil {
		t.Fatal(err)
	}
	as := func(who string, args ...string) *exec.Cmd {
		full := append([]string{"--reuid", who, "--regid", who, "--init-groups", "--", BinPath}, args...)
		if who == "nobody" {
			full = append([]string{"--reuid", "nobody", "--regid", "nogroup", "--clear-groups", "--", BinPath}, args...)
		}
		return tp.Laptop.Command(ctx, "setpriv", full...)
	}
	// Someone outside the group is turned away with the way in.
	out, err := as("nobody", "status").CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 5 || !strings.Contains(string(out), "ghostwire group") {
		t.Errorf("a user outside the group: %v\n%s", err, out)
	}
	up := as(name, "up", c.ServerURL(), "--ca-file", ca, "--device-code", "--no-browser", "--timeout", "90s")
	var upOut bytes.Buffer
	up.Stdout, up.Stderr = &upOut, &upOut
	if err := up.Start(); err != nil {
		t.Fatal(err)
	}
	code := waitCode(t, client)
	if err := tp.Approve(ctx, code, topo.UserDemo); err != nil {
		t.Fatal(err)
	}
	if err := up.Wait(); err != nil {
		t.Fatalf("ghostwire up (installed, as %s): %v\n%s", name, err, upOut.String())
	}
	if !strings.Contains(upOut.String(), "Connected to "+c.ServerURL()) || !strings.Contains(upOut.String(), "(profile prod)") {
		t.Errorf("ghostwire up said:\n%s", upOut.String())
	}
	body, err := tp.Curl(ctx, "http://prometheus/metrics", 10*time.Second)
	if err != nil || !strings.Contains(body, "gwe_cluster_info") {
		t.Fatalf("curl http://prometheus/metrics through the installed ghostwire: %v\n%s", err, body)
	}
	t.Logf("curl http://prometheus/metrics → %s", strings.TrimSpace(strings.Split(body, "\n")[2]))
	if out, err := as(name, "down").CombinedOutput(); err != nil {
		t.Errorf("ghostwire down: %v\n%s", err, out)
	}

	// 6. A ghostwire:// link, run as the installed handler's Exec line, in a
	// desktop session (a private session bus; zenity is a stand-in that
	// answers, since nobody clicks here). No: nothing connects. Yes: the
	// profile that has this server connects (a link never swaps its server).
	link := "ghostwire://connect?server=" + url.QueryEscape(c.ServerURL())
	linkOut, linkErr, calls := openLink(t, tp, name, ca, link, 1)
	if linkErr != nil || !strings.Contains(linkOut, "Nothing was added") || !strings.Contains(calls, "--question") || !strings.Contains(calls, c.ServerURL()[len("https://"):]) {
		t.Errorf("declined link: %v\n%s\n%s", linkErr, linkOut, calls)
	}
	if st, _ := client.Status(ctx); len(st.Profiles) != 1 || st.Profiles[0].State != localapi.StateDisconnected {
		t.Fatalf("a declined link changed the daemon: %+v", st.Profiles)
	}
	if _, err, calls := openLink(t, tp, name, ca, "ghostwire://connect?server=http://"+c.NodePublic.String(), 0); err == nil || !strings.Contains(calls, "plain http") {
		t.Errorf("an http:// link must be refused with the reason: %v\n%s", err, calls)
	}
	linkOut, linkErr, calls = openLink(t, tp, name, ca, link, 0)
	if linkErr != nil || !strings.Contains(calls, "Connect to prod?") {
		t.Fatalf("confirmed link: %v\n%s\n%s", linkErr, linkOut, calls)
	}
	if _, err := waitState(client, "prod", localapi.StateConnected, 30*time.Second); err != nil {
		t.Fatalf("after the confirmed link: %v", err)
	}
	if body, err := tp.Curl(ctx, "http://prometheus/metrics", 10*time.Second); err != nil || !strings.Contains(body, "gwe_cluster_info") {
		t.Fatalf("curl after the link: %v\n%s", err, body)
	}
	if out, err := as(name, "down").CombinedOutput(); err != nil {
		t.Errorf("ghostwire down: %v\n%s", err, out)
	}

	// 7. Stop as systemd does (SIGTERM, within TimeoutStopSec), remove the person, purge.
	stop, _ := time.ParseDuration(unit["TimeoutStopSec"])
	daemon.Signal(syscall.SIGTERM)
	if err := daemon.Wait(stop); err != nil {
		t.Errorf("the daemon did not stop cleanly within %s: %v", stop, err)
	}
	removeUser(t, name)
	os.RemoveAll(presetDir) // the administrator's file, not the package's
	dpkg(t, "-P", "ghostwire")
	purged = true
	var left []string
	for _, p := range append(debFiles, "/var/lib/ghostwire", "/run/ghostwire", DocDir) {
		if _, err := os.Lstat(p); err == nil {
			left = append(left, p)
		}
	}
	for _, d := range []string{"/etc/systemd/system", "/var/lib/systemd/deb-systemd-helper-enabled", "/var/lib/systemd/deb-systemd-helper-masked"} {
		filepath.Walk(d, func(p string, fi os.FileInfo, err error) error {
			if err == nil && strings.Contains(filepath.Base(p), "ghostwire") {
				left = append(left, p)
			}
			return nil
		})
	}
	if len(left) > 0 {
		t.Errorf("dpkg -P left behind: %v", left)
	}
	if _, err := user.LookupGroup(service.Group); err == nil {
		t.Errorf("dpkg -P left the %q group", service.Group)
	}
	if out, _ := exec.Command("dpkg-query", "-W", "-f", "${Status}", "ghostwire").Output(); strings.Contains(string(out), "installed") {
		t.Errorf("dpkg still knows the package: %s", out)
	}
}
