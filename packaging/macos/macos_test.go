package macos

import (
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"howett.net/plist"

	"github.com/ghostwire/ghostwire/app/service"
)

func TestInfoPlist(t *testing.T) {
	b, err := InfoPlist("v1.4.2-rc.1")
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if _, err := plist.Unmarshal(b, &got); err != nil {
		t.Fatalf("Info.plist does not parse: %v\n%s", err, b)
	}
	for k, v := range map[string]any{
		"CFBundleIdentifier": BundleID, "CFBundleExecutable": "ghostwire", "CFBundleIconFile": "Ghostwire",
		"CFBundlePackageType": "APPL", "CFBundleShortVersionString": "1.4.2", "CFBundleVersion": "1.4.2",
		"LSUIElement": true, "LSMinimumSystemVersion": "12.0", "NSHighResolutionCapable": true,
	} {
		if got[k] != v {
			t.Errorf("%s = %#v, want %#v", k, got[k], v)
		}
	}
	for v, want := range map[string]string{"dev": "0.0.0", "2.0": "2.0", "v3.1.4.1": "3.1.4", "1.2.3-5-gabc": "1.2.3"} {
		if got := BundleVersion(v); got != want {
			t.Errorf("BundleVersion(%q) = %q, want %q", v, got, want)
		}
	}
}

func fakeInputs(t *testing.T) BundleOptions {
	dir := t.TempDir()
	exe := filepath.Join(dir, "ghostwire")
	if err := os.WriteFile(exe, []byte("\xcf\xfa\xed\xfe program"), 0o700); err != nil {
		t.Fatal(err)
	}
	return BundleOptions{Executable: exe, Icon: filepath.Join("..", "..", "assets", "app", "Ghostwire.icns"), Version: "1.0.0"}
}

// files lists the regular files under dir with their modes.
func files(t *testing.T, dir string) map[string]fs.FileMode {
	out := map[string]fs.FileMode{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		out[rel] = fi.Mode().Perm()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestBundleLayout(t *testing.T) {
	out := t.TempDir()
	app, err := Bundle(out, fakeInputs(t))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]fs.FileMode{
		"Contents/Info.plist":               0o644,
		"Contents/PkgInfo":                  0o644,
		"Contents/MacOS/ghostwire":          0o755,
		"Contents/Resources/Ghostwire.icns": 0o644,
	}
	got := files(t, app)
	for p, m := range want {
		if got[p] != m {
			t.Errorf("%s: mode %v, want %v (have %v)", p, got[p], m, got)
		}
	}
	if len(got) != len(want) {
		t.Errorf("bundle holds %v", got)
	}
	// Building again replaces the old bundle.
	if _, err := Bundle(out, fakeInputs(t)); err != nil {
		t.Fatal(err)
	}
	bad := fakeInputs(t)
	bad.Icon = bad.Executable
	if _, err := Bundle(out, bad); err == nil {
		t.Error("a non-icns icon was accepted")
	}
}

func TestPkgRoot(t *testing.T) {
	root := t.TempDir()
	if err := PkgRoot(root, fakeInputs(t)); err != nil {
		t.Fatal(err)
	}
	got := files(t, root)
	for _, p := range []string{"Applications/Ghostwire.app/Contents/MacOS/ghostwire", "Library/LaunchDaemons/com.ghostwire.daemon.plist",
		"Library/LaunchAgents/com.ghostwire.tray.plist"} {
		if _, ok := got[p]; !ok {
			t.Errorf("payload lacks %s: %v", p, got)
		}
	}
	var job map[string]any
	b, _ := os.ReadFile(filepath.Join(root, service.LaunchDaemonPath))
	if _, err := plist.Unmarshal(b, &job); err != nil {
		t.Fatal(err)
	}
	args, _ := job["ProgramArguments"].([]any)
	if !slices.Equal(args, []any{"/Applications/Ghostwire.app/Contents/MacOS/ghostwire", "daemon"}) {
		t.Errorf("the daemon runs %v", args)
	}
	var agent map[string]any
	b, _ = os.ReadFile(filepath.Join(root, TrayAgentPath))
	if _, err := plist.Unmarshal(b, &agent); err != nil {
		t.Fatal(err)
	}
	if a, _ := agent["ProgramArguments"].([]any); len(a) != 2 || a[1] != "tray" {
		t.Errorf("the tray agent runs %v", agent["ProgramArguments"])
	}
}
