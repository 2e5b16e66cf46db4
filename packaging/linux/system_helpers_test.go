package linux

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ghostwire/ghostwire/app/localapi"
	"github.com/ghostwire/ghostwire/e2e/topo"
)

// Helpers of the system tests: dpkg, the unit file, starting the daemon as
// systemd would, capabilities, presets, links and users.

// dpkg runs dpkg, waiting while apt or another dpkg holds the lock (other
// jobs on this machine may be installing packages).
func dpkg(t *testing.T, args ...string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Minute)
	for {
		out, err := exec.Command("dpkg", args...).CombinedOutput()
		if err == nil {
			return
		}
		if strings.Contains(string(out), "lock") && time.Now().Before(deadline) {
			time.Sleep(3 * time.Second)
			continue
		}
		t.Fatalf("dpkg %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// debPaths lists the files (not directories) a .deb installs.
func debPaths(t *testing.T, deb string) []string {
	t.Helper()
	var paths []string
	sc := bufio.NewScanner(strings.NewReader(run(t, "dpkg-deb", "-c", deb)))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 6 || strings.HasPrefix(f[0], "d") {
			continue
		}
		paths = append(paths, strings.TrimPrefix(f[5], "."))
	}
	if len(paths) < 10 {
		t.Fatalf("dpkg-deb -c listed only %v", paths)
	}
	return paths
}

// readUnit reads the [Service] settings of a unit file (one value per key).
func readUnit(t *testing.T, path string) map[string]string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	kv := map[string]string{}
	section := ""
	for _, l := range strings.Split(string(b), "\n") {
		l = strings.TrimSpace(l)
		if strings.HasPrefix(l, "[") {
			section = l
			continue
		}
		if k, v, ok := strings.Cut(l, "="); ok && section == "[Service]" && !strings.HasPrefix(l, "#") {
			kv[k] = v
		}
	}
	return kv
}

// startLikeTheUnit starts ExecStart inside the laptop namespace the way
// systemd would: RuntimeDirectory and StateDirectory made with their modes,
// UMask, the CapabilityBoundingSet, SupplementaryGroups and NoNewPrivileges
// through setpriv. Two arguments are added, and said: the tunnel interfaces'
// prefix (their UAPI sockets live in the machine-wide /var/run/wireguard,
// shared with other tests), and --dns stub when systemd-resolved runs on the
// host bus (auto mode would change the host's DNS, not the laptop's).
func startLikeTheUnit(t *testing.T, tp *topo.Topology, unit map[string]string, grp *user.Group) (*topo.Proc, []string) {
	t.Helper()
	for _, d := range []struct{ dir, mode string }{
		{"/run/" + unit["RuntimeDirectory"], unit["RuntimeDirectoryMode"]},
		{"/var/lib/" + unit["StateDirectory"], unit["StateDirectoryMode"]},
	} {
		mode, err := strconv.ParseUint(d.mode, 8, 32)
		if err != nil {
			t.Fatalf("unit mode %q: %v", d.mode, err)
		}
		if err := os.MkdirAll(d.dir, os.FileMode(mode)); err != nil {
			t.Fatal(err)
		}
		os.Chmod(d.dir, os.FileMode(mode))
	}
	var caps []string
	for _, c := range strings.Fields(unit["CapabilityBoundingSet"]) {
		caps = append(caps, "+"+strings.ToLower(strings.TrimPrefix(c, "CAP_")))
	}
	if unit["SupplementaryGroups"] != grp.Name || unit["NoNewPrivileges"] != "yes" || unit["UMask"] == "" {
		t.Fatalf("the unit changed: SupplementaryGroups=%q NoNewPrivileges=%q UMask=%q: update this test", unit["SupplementaryGroups"], unit["NoNewPrivileges"], unit["UMask"])
	}
	exe := strings.Fields(unit["ExecStart"])
	args := append(exe, "--interface-prefix", "gwpkg")
	if exec.Command("busctl", "--system", "status", "org.freedesktop.resolve1").Run() == nil {
		args = append(args, "--dns", "stub")
	}
	setpriv := []string{"setpriv", "--bounding-set", "-all," + strings.Join(caps, ","), "--inh-caps", "-all",
		"--groups", grp.Gid, "--no-new-privs", "--"}
	script := "umask " + unit["UMask"] + " && exec " + strings.Join(append(setpriv, args...), " ")
	p, err := tp.Start(tp.Laptop, "daemon-as-unit", nil, "sh", "-c", script)
	if err != nil {
		t.Fatal(err)
	}
	return p, append([]string{"umask", unit["UMask"], "&&"}, append(setpriv, args...)...)
}

func waitDaemon(t *testing.T, c *localapi.Client, p *topo.Proc) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_, err := c.Status(ctx)
		cancel()
		if err == nil {
			return
		}
		if done, perr := p.Exited(); done {
			t.Fatalf("the daemon exited (%v): %s", perr, p.Tail(4000))
		}
		if time.Now().After(deadline) {
			t.Fatalf("the daemon's socket did not answer in 20 s: %v\n%s", err, p.Tail(4000))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitCode waits for the device code the daemon shows.
func waitCode(t *testing.T, c *localapi.Client) string {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		st, err := c.Status(ctx)
		cancel()
		if err == nil {
			for _, p := range st.Profiles {
				if p.SignIn != nil && p.SignIn.UserCode != "" {
					return p.SignIn.UserCode
				}
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatal("no sign-in code within 60 s")
	return ""
}

// capEff reads a process's effective capability set.
func capEff(t *testing.T, pid int) uint64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "CapEff:"); ok {
			n, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatal("no CapEff line")
	return 0
}

// capMask is the bit mask of capability names (linux/capability.h numbers).
func capMask(t *testing.T, names string) uint64 {
	t.Helper()
	num := map[string]uint{"CAP_NET_BIND_SERVICE": 10, "CAP_NET_ADMIN": 12, "CAP_NET_RAW": 13, "CAP_CHOWN": 0, "CAP_DAC_OVERRIDE": 1}
	var m uint64
	for _, n := range strings.Fields(names) {
		bit, ok := num[n]
		if !ok {
			t.Fatalf("capability %s: add its number to capMask", n)
		}
		m |= 1 << bit
	}
	return m
}

const presetDir = "/etc/ghostwire"

// writePreset writes /etc/ghostwire/preset.json as an administrator would;
// the test refuses to overwrite one that was there before.
func writePreset(t *testing.T, text string) {
	t.Helper()
	if _, err := os.Stat(presetDir); err == nil {
		t.Fatalf("%s exists already on this machine: this test writes its own preset there; move it away first", presetDir)
	}
	if err := os.MkdirAll(presetDir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(presetDir) })
	if err := os.WriteFile(filepath.Join(presetDir, "preset.json"), []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

// openLink runs the installed link handler's Exec line for link as user,
// the way the desktop does (no terminal, a session bus, a display), with a
// stand-in zenity that records its arguments and answers with exit code
// answer. SSL_CERT_FILE lets the handler trust the test CA when it reads the
// server's name.
func openLink(t *testing.T, tp *topo.Topology, user, ca, link string, answer int) (out string, err error, calls string) {
	t.Helper()
	dir, derr := os.MkdirTemp("", "gwpkg-zenity-")
	if derr != nil {
		t.Fatal(derr)
	}
	defer os.RemoveAll(dir)
	os.Chmod(dir, 0o777)
	log := filepath.Join(dir, "calls")
	script := "#!/bin/sh\nfor a in \"$@\"; do printf '%s\\n' \"$a\"; done >> " + log + "\n" +
		"case \"$1\" in --question) exit " + strconv.Itoa(answer) + ";; esac\nexit 0\n"
	if err := os.WriteFile(filepath.Join(dir, "zenity"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	entry, rerr := os.ReadFile(LinkHandlerPath)
	if rerr != nil {
		t.Fatal(rerr)
	}
	var execLine string
	for _, l := range strings.Split(string(entry), "\n") {
		if v, ok := strings.CutPrefix(l, "Exec="); ok {
			execLine = v
		}
	}
	argv := strings.Fields(strings.Replace(execLine, "%u", "LINK", 1))
	for i, a := range argv {
		if a == "LINK" {
			argv[i] = link
		}
	}
	full := append([]string{"--reuid", user, "--regid", user, "--init-groups", "--",
		"env", "PATH=" + dir + ":/usr/bin:/bin", "DISPLAY=:97", "SSL_CERT_FILE=" + ca, "HOME=" + dir,
		"dbus-run-session", "--"}, argv...)
	cmd := tp.Laptop.Command(context.Background(), "setpriv", full...)
	b, err := cmd.CombinedOutput()
	c, _ := os.ReadFile(log)
	return string(b), err, string(c)
}

func waitState(c *localapi.Client, profile string, want localapi.State, within time.Duration) (localapi.Profile, error) {
	deadline := time.Now().Add(within)
	var last localapi.Profile
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		st, err := c.Status(ctx)
		cancel()
		if err == nil {
			if p, ok := st.Profile(profile); ok {
				last = p
				if p.State == want {
					return p, nil
				}
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return last, fmt.Errorf("profile %s is %s (%s), not %s, after %s", profile, last.State, last.Reason, want, within)
}

// removeUser deletes the test's user, waiting for its last processes (the
// menu-bar app a link started ends with its private session bus).
func removeUser(t *testing.T, name string) {
	t.Helper()
	if _, err := user.Lookup(name); err != nil {
		return
	}
	var out []byte
	var err error
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if out, err = exec.Command("userdel", name).CombinedOutput(); err == nil {
			return
		}
	}
	t.Errorf("userdel %s: %v\n%s", name, err, out)
}
