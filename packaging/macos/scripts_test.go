package macos

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The installer's scripts and the uninstall script, run here with POSIX sh
// (dash, stricter than macOS's sh) against stand-ins for the macOS
// commands (launchctl, stat -f, osascript, pkgutil, ps, id) that record
// their arguments; file operations happen in a temporary root, or are
// recorded too where the script works on the running system. What only a
// Mac shows (launchd really starting the jobs, the installer's own
// behaviour) is the macos job of .github/workflows/desktop.yml.

type stubs struct {
	dir, calls string
}

// newStubs records every call of names; consoleUID is what `stat -f %u
// /dev/console` says, loaded whether `launchctl print` finds a job.
func newStubs(t *testing.T, consoleUID string, loaded bool, names ...string) stubs {
	t.Helper()
	dir := t.TempDir()
	s := stubs{dir: filepath.Join(dir, "bin"), calls: filepath.Join(dir, "calls")}
	os.MkdirAll(s.dir, 0o755)
	record := "#!/bin/sh\necho \"$(basename \"$0\") $*\" >> \"$CALLS\"\n"
	printRC := "1"
	if loaded {
		printRC = "0"
	}
	write := func(name, body string) { os.WriteFile(filepath.Join(s.dir, name), []byte(body), 0o755) }
	for _, n := range names {
		write(n, record)
	}
	write("launchctl", record+`[ "$1" = print ] && exit `+printRC+"\nexit 0\n")
	write("stat", record+"echo "+consoleUID+"\n")
	return s
}

func (s stubs) run(t *testing.T, env []string, script string, args ...string) (string, []string) {
	t.Helper()
	cmd := exec.Command("sh", append([]string{script}, args...)...)
	cmd.Env = append(append(os.Environ(), "PATH="+s.dir+":"+os.Getenv("PATH"), "CALLS="+s.calls), env...)
	out, err := cmd.CombinedOutput()
	raw, _ := os.ReadFile(s.calls)
	var calls []string
	for _, l := range strings.Split(strings.TrimSpace(string(raw)), "\n") {
		if l != "" {
			calls = append(calls, l)
		}
	}
	if err != nil {
		return string(out) + "\nexit: " + err.Error(), calls
	}
	return string(out), calls
}

func scriptFile(t *testing.T, name string) string {
	t.Helper()
	b, err := scripts.ReadFile("scripts/" + name)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), name)
	os.WriteFile(p, b, 0o755)
	return p
}

func same(t *testing.T, what string, got, want []string) {
	t.Helper()
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("%s calls:\n  %s\nwant:\n  %s", what, strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}

const quitApp = `launchctl asuser 501 osascript -e tell application id "com.ghostwire.Ghostwire" to quit`

func TestPreinstall(t *testing.T) {
	pre := scriptFile(t, "preinstall")
	// An upgrade with someone at the screen: the daemon and their menu stop.
	s := newStubs(t, "501", true)
	out, calls := s.run(t, nil, pre, "/tmp/Ghostwire.pkg", "/", "/", "/")
	same(t, "preinstall (upgrade) "+out, calls, []string{
		"launchctl print system/com.ghostwire.daemon",
		"launchctl bootout system/com.ghostwire.daemon",
		"stat -f %u /dev/console",
		"launchctl bootout gui/501/com.ghostwire.tray",
		quitApp,
	})
	// A first install at the login window: nothing runs, nothing to stop.
	s = newStubs(t, "0", false)
	out, calls = s.run(t, nil, pre, "/tmp/Ghostwire.pkg", "/", "/", "/")
	same(t, "preinstall (first, login window) "+out, calls, []string{"launchctl print system/com.ghostwire.daemon", "stat -f %u /dev/console"})
	// Another volume: its system is not running; nothing to stop.
	s = newStubs(t, "501", true)
	_, calls = s.run(t, nil, pre, "/tmp/Ghostwire.pkg", "/", "/Volumes/Other", "/")
	same(t, "preinstall (other volume)", calls, nil)
}

func TestPostinstall(t *testing.T) {
	post := scriptFile(t, "postinstall")
	// The running system: the file operations are recorded, not done.
	s := newStubs(t, "501", false, "chown", "chmod", "rm", "rmdir")
	out, calls := s.run(t, nil, post, "/tmp/Ghostwire.pkg", "/", "/", "/")
	same(t, "postinstall "+out, calls, []string{
		"chown root:wheel /Library/LaunchDaemons/com.ghostwire.daemon.plist /Library/LaunchAgents/com.ghostwire.tray.plist",
		"chmod 644 /Library/LaunchDaemons/com.ghostwire.daemon.plist /Library/LaunchAgents/com.ghostwire.tray.plist",
		"rm -f /usr/local/libexec/ghostwire/ghostwire",
		"rmdir /usr/local/libexec/ghostwire",
		"launchctl bootout system/com.ghostwire.daemon",
		"launchctl enable system/com.ghostwire.daemon",
		"launchctl bootstrap system /Library/LaunchDaemons/com.ghostwire.daemon.plist",
		"stat -f %u /dev/console",
		"launchctl bootout gui/501/com.ghostwire.tray",
		"launchctl bootstrap gui/501 /Library/LaunchAgents/com.ghostwire.tray.plist",
	})
	if strings.Contains(out, "exit:") {
		t.Errorf("postinstall failed: %s", out)
	}

	// Another volume: the files there are fixed up, launchd is not asked.
	root := t.TempDir()
	if err := PkgRoot(root, fakeInputs(t)); err != nil {
		t.Fatal(err)
	}
	helper := filepath.Join(root, "usr/local/libexec/ghostwire/ghostwire")
	os.MkdirAll(filepath.Dir(helper), 0o755)
	os.WriteFile(helper, []byte("old helper"), 0o755)
	os.Chmod(filepath.Join(root, TrayAgentPath), 0o666)
	s = newStubs(t, "501", false, "chown")
	out, calls = s.run(t, nil, post, "/tmp/Ghostwire.pkg", "/", root+"/", "/")
	if strings.Contains(out, "exit:") {
		t.Fatalf("postinstall on another volume: %s", out)
	}
	same(t, "postinstall (other volume)", calls, []string{
		"chown root:wheel " + root + "/Library/LaunchDaemons/com.ghostwire.daemon.plist " + root + "/Library/LaunchAgents/com.ghostwire.tray.plist",
	})
	if fi, _ := os.Stat(filepath.Join(root, TrayAgentPath)); fi.Mode().Perm() != 0o644 {
		t.Errorf("the agent's mode is %v, launchd wants 0644", fi.Mode().Perm())
	}
	if _, err := os.Stat(filepath.Dir(helper)); !os.IsNotExist(err) {
		t.Error("the old `daemon install` helper is left")
	}

	// launchd refusing the daemon is reported, with where to look.
	s = newStubs(t, "0", false, "chown", "chmod", "rm", "rmdir")
	os.WriteFile(filepath.Join(s.dir, "launchctl"), []byte("#!/bin/sh\necho \"launchctl $*\" >> \"$CALLS\"\n[ \"$1\" = bootstrap ] && exit 5\nexit 0\n"), 0o755)
	out, _ = s.run(t, nil, post, "/tmp/Ghostwire.pkg", "/", "/", "/")
	if !strings.Contains(out, "exit:") || !strings.Contains(out, "/Library/Logs/ghostwire/daemon.log") {
		t.Errorf("a daemon that does not start must fail the install and say where to look: %s", out)
	}
}

// The uninstall script, run from the app in a temporary root laid out as
// the pkg installs it, plus what the daemon, the tray and a person's
// settings leave: everything of ours goes, nothing else.
func TestUninstall(t *testing.T) {
	root := t.TempDir()
	if err := PkgRoot(root, fakeInputs(t)); err != nil {
		t.Fatal(err)
	}
	app := filepath.Join(root, "Applications/Ghostwire.app")
	// The app's program stands in for `ghostwire daemon purge`.
	os.WriteFile(filepath.Join(app, "Contents/MacOS/ghostwire"), []byte("#!/bin/sh\necho \"ghostwire $*\" >> \"$CALLS\"\n"), 0o755)
	ours := []string{
		"Library/Application Support/ghostwire/profiles.json",
		"Library/Logs/ghostwire/daemon.log",
		"usr/local/libexec/ghostwire/ghostwire",
		"Users/ana/Library/LaunchAgents/com.ghostwire.tray.plist",
		"Users/ana/Library/Application Support/Ghostwire/no-start-at-login",
		"Users/ana/Library/Caches/ghostwire/tray.log",
	}
	theirs := []string{
		"Library/LaunchDaemons/com.example.other.plist",
		"Library/Application Support/Other/settings",
		"Users/ana/Library/Application Support/Other/x",
		"Users/ana/Documents/notes.txt",
		"Applications/Other.app/Contents/Info.plist",
	}
	for _, f := range append(append([]string(nil), ours...), theirs...) {
		p := filepath.Join(root, f)
		os.MkdirAll(filepath.Dir(p), 0o755)
		os.WriteFile(p, []byte("x"), 0o644)
	}
	un := filepath.Join(app, "Contents/Resources", UninstallScript)

	// Not root: refused, nothing removed.
	s := newStubs(t, "501", true)
	os.WriteFile(filepath.Join(s.dir, "id"), []byte("#!/bin/sh\necho 501\n"), 0o755)
	if out, _ := s.run(t, nil, un); !strings.Contains(out, "sudo") || !strings.Contains(out, "exit:") {
		t.Errorf("uninstall as a user: %s", out)
	}
	if _, err := os.Stat(app); err != nil {
		t.Fatal("a refused uninstall removed the app")
	}

	s = newStubs(t, "501", true, "osascript", "pkgutil")
	os.WriteFile(filepath.Join(s.dir, "id"), []byte("#!/bin/sh\necho 0\n"), 0o755)
	// Two people run the menu-bar app (fast user switching).
	os.WriteFile(filepath.Join(s.dir, "ps"), []byte("#!/bin/sh\nprintf '  501 %s\\n  502 %s\\n    0 /sbin/launchd\\n' \"$APP_EXE\" \"$APP_EXE\"\n"), 0o755)
	out, calls := s.run(t, []string{"APP_EXE=" + filepath.Join(app, "Contents/MacOS/ghostwire")}, un)
	if strings.Contains(out, "exit:") || !strings.Contains(out, "Ghostwire is removed.") {
		t.Fatalf("uninstall: %s", out)
	}
	same(t, "uninstall", calls, []string{
		"launchctl bootout gui/501/com.ghostwire.tray",
		"launchctl asuser 501 osascript -e tell application id \"com.ghostwire.Ghostwire\" to quit",
		"launchctl bootout gui/502/com.ghostwire.tray",
		"launchctl asuser 502 osascript -e tell application id \"com.ghostwire.Ghostwire\" to quit",
		"stat -f %u /dev/console",
		"launchctl bootout gui/501/com.ghostwire.tray",
		"launchctl print system/com.ghostwire.daemon",
		"launchctl bootout system/com.ghostwire.daemon",
		"launchctl disable system/com.ghostwire.daemon",
		"ghostwire daemon purge --state-dir " + root + "/Library/Application Support/ghostwire",
		"pkgutil --volume " + root + " --forget com.ghostwire.Ghostwire.pkg",
	})
	for _, f := range append(ours, "Applications/Ghostwire.app", daemonPlist, "Library/LaunchAgents/com.ghostwire.tray.plist") {
		if _, err := os.Stat(filepath.Join(root, f)); !os.IsNotExist(err) {
			t.Errorf("%s is left: %v", f, err)
		}
	}
	for _, f := range theirs {
		if _, err := os.Stat(filepath.Join(root, f)); err != nil {
			t.Errorf("%s, not ours, was removed", f)
		}
	}
}

const daemonPlist = "Library/LaunchDaemons/com.ghostwire.daemon.plist"
