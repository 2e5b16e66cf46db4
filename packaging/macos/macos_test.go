package macos

import (
	"bytes"
	"encoding/xml"
	"io/fs"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"howett.net/plist"

	"github.com/ghostwire/ghostwire/app/preset"
	"github.com/ghostwire/ghostwire/app/service"
	"github.com/ghostwire/ghostwire/app/tray/autostart"
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
	// The ghostwire:// scheme, which LaunchServices routes to the app.
	types, _ := got["CFBundleURLTypes"].([]any)
	if len(types) != 1 {
		t.Fatalf("CFBundleURLTypes: %#v", got["CFBundleURLTypes"])
	}
	ut, _ := types[0].(map[string]any)
	if schemes, _ := ut["CFBundleURLSchemes"].([]any); !slices.Equal(schemes, []any{"ghostwire"}) || ut["CFBundleURLName"] != BundleID+".link" || ut["CFBundleTypeRole"] != "Viewer" {
		t.Errorf("the URL type: %#v", ut)
	}
	for v, want := range map[string]string{"dev": "0.0.0", "2.0": "2.0", "v3.1.4.1": "3.1.4", "1.2.3-5-gabc": "1.2.3"} {
		if got := BundleVersion(v); got != want {
			t.Errorf("BundleVersion(%q) = %q, want %q", v, got, want)
		}
	}
}

// One identifier: the bundle, LaunchServices' target for links, and the
// managed preferences' domain.
func TestIdentifiers(t *testing.T) {
	for _, id := range []string{preset.PreferenceDomain, autostart.BundleID, "com.ghostwire.Ghostwire"} {
		if id != BundleID {
			t.Errorf("bundle %s, but %s elsewhere (preference domain %s, autostart %s)", BundleID, id, preset.PreferenceDomain, autostart.BundleID)
		}
	}
	if TrayAgentPath != "/Library/LaunchAgents/"+autostart.LaunchAgentLabel+".plist" {
		t.Errorf("tray agent %s", TrayAgentPath)
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
		"Contents/Resources/uninstall.sh":   0o755,
	}
	if got := files(t, app); !maps.Equal(got, want) {
		t.Errorf("bundle holds %v, want %v", got, want)
	}
	// Building again replaces the old bundle: nothing of it is left.
	stale := filepath.Join(app, "Contents", "Resources", "stale")
	if err := os.WriteFile(stale, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Bundle(out, fakeInputs(t)); err != nil {
		t.Fatal(err)
	}
	if got := files(t, app); !maps.Equal(got, want) {
		t.Errorf("rebuilt bundle holds %v, want %v", got, want)
	}
	bad := fakeInputs(t)
	bad.Icon = bad.Executable
	if _, err := Bundle(out, bad); err == nil {
		t.Error("a non-icns icon was accepted")
	}
}

func readPlist(t *testing.T, path string) map[string]any {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if _, err := plist.Unmarshal(b, &m); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return m
}

// The payload as it lands on the Mac: every file, its mode, and the jobs'
// keys (the pkg installs them root:wheel: pkgbuild --ownership recommended).
func TestPkgRoot(t *testing.T) {
	root := t.TempDir()
	if err := PkgRoot(root, fakeInputs(t)); err != nil {
		t.Fatal(err)
	}
	want := map[string]fs.FileMode{
		"Applications/Ghostwire.app/Contents/Info.plist":               0o644,
		"Applications/Ghostwire.app/Contents/PkgInfo":                  0o644,
		"Applications/Ghostwire.app/Contents/MacOS/ghostwire":          0o755,
		"Applications/Ghostwire.app/Contents/Resources/Ghostwire.icns": 0o644,
		"Applications/Ghostwire.app/Contents/Resources/uninstall.sh":   0o755,
		"Library/LaunchDaemons/com.ghostwire.daemon.plist":             0o644,
		"Library/LaunchAgents/com.ghostwire.tray.plist":                0o644,
	}
	if got := files(t, root); !maps.Equal(got, want) {
		t.Errorf("payload %v, want %v", got, want)
	}
	exe := "/Applications/Ghostwire.app/Contents/MacOS/ghostwire"
	job := readPlist(t, filepath.Join(root, service.LaunchDaemonPath))
	if job["Label"] != service.LaunchdLabel || job["RunAtLoad"] != true || job["KeepAlive"] != true ||
		job["StandardErrorPath"] != "/Library/Logs/ghostwire/daemon.log" {
		t.Errorf("LaunchDaemon %v", job)
	}
	if args, _ := job["ProgramArguments"].([]any); !slices.Equal(args, []any{exe, "daemon"}) {
		t.Errorf("the daemon runs %v", args)
	}
	agent := readPlist(t, filepath.Join(root, TrayAgentPath))
	if agent["Label"] != "com.ghostwire.tray" || agent["RunAtLoad"] != true || agent["LimitLoadToSessionType"] != "Aqua" || agent["ProcessType"] != "Interactive" {
		t.Errorf("LaunchAgent %v", agent)
	}
	// --at-login: a person who turned Start at login off is left alone.
	if args, _ := agent["ProgramArguments"].([]any); !slices.Equal(args, []any{exe, "tray", "--at-login"}) {
		t.Errorf("the tray agent runs %v", args)
	}
}

// The scripts name the same jobs, paths and identifiers as the code.
func TestScriptsAgreeWithTheCode(t *testing.T) {
	dir := t.TempDir()
	if err := Scripts(dir); err != nil {
		t.Fatal(err)
	}
	if got := files(t, dir); !maps.Equal(got, map[string]fs.FileMode{"preinstall": 0o755, "postinstall": 0o755}) {
		t.Errorf("scripts %v", got)
	}
	read := func(name string) string {
		b, err := scripts.ReadFile("scripts/" + name)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	pre, post, un := read("preinstall"), read("postinstall"), read(UninstallScript)
	for name, s := range map[string]string{"preinstall": pre, "postinstall": post, "uninstall.sh": un} {
		for _, want := range []string{"DAEMON=" + service.LaunchdLabel, "TRAY=" + autostart.LaunchAgentLabel} {
			if !strings.Contains(s, want) {
				t.Errorf("%s lacks %s", name, want)
			}
		}
	}
	for _, want := range []string{`"$ROOT/Library/LaunchDaemons/$DAEMON.plist"`, `"$ROOT/Library/LaunchAgents/$TRAY.plist"`} {
		if !strings.Contains(post, want) || !strings.Contains(un, want) {
			t.Errorf("postinstall and uninstall.sh must name %s", want)
		}
	}
	if "/Library/LaunchDaemons/"+service.LaunchdLabel+".plist" != service.LaunchDaemonPath {
		t.Error("service.LaunchDaemonPath moved: the scripts must follow")
	}
	for _, want := range []string{"APP_ID=" + BundleID, "PKG_ID=" + PkgID, `STATE="$ROOT/Library/Application Support/ghostwire"`,
		`"$ROOT/Library/Logs/ghostwire"`, "daemon purge --state-dir"} {
		if !strings.Contains(un, want) {
			t.Errorf("uninstall.sh lacks %s", want)
		}
	}
	if service.MacLogDir != "/Library/Logs/ghostwire" || service.MacHelperPath != "/usr/local/libexec/ghostwire/ghostwire" {
		t.Error("app/service's macOS paths moved: the scripts must follow")
	}
}

func TestScriptsShellcheck(t *testing.T) {
	if _, err := exec.LookPath("shellcheck"); err != nil {
		t.Fatal("shellcheck is missing: `make deps` installs it")
	}
	dir := t.TempDir()
	var paths []string
	for _, n := range []string{"preinstall", "postinstall", UninstallScript} {
		b, _ := scripts.ReadFile("scripts/" + n)
		p := filepath.Join(dir, n)
		os.WriteFile(p, b, 0o755)
		paths = append(paths, p)
	}
	if out, err := exec.Command("shellcheck", append([]string{"-s", "sh"}, paths...)...).CombinedOutput(); err != nil {
		t.Fatalf("shellcheck: %v\n%s", err, out)
	}
}

func TestComponentPlist(t *testing.T) {
	b, err := ComponentPlist()
	if err != nil {
		t.Fatal(err)
	}
	var got []map[string]any
	if _, err := plist.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0]["RootRelativeBundlePath"] != "Applications/Ghostwire.app" || got[0]["BundleIsRelocatable"] != false ||
		got[0]["BundleOverwriteAction"] != "upgrade" {
		t.Errorf("component plist %v", got)
	}
}

func TestDistribution(t *testing.T) {
	b, err := Distribution("1.4.0+git3.1a2b3c4d5e6f")
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Title   string `xml:"title"`
		Options struct {
			Customize string `xml:"customize,attr"`
			Arch      string `xml:"hostArchitectures,attr"`
			RootOnly  string `xml:"rootVolumeOnly,attr"`
		} `xml:"options"`
		Domains struct {
			Local string `xml:"enable_localSystem,attr"`
			Home  string `xml:"enable_currentUserHome,attr"`
		} `xml:"domains"`
		MinOS struct {
			Min string `xml:"min,attr"`
		} `xml:"volume-check>allowed-os-versions>os-version"`
		PkgRef []struct {
			ID      string `xml:"id,attr"`
			Version string `xml:"version,attr"`
			File    string `xml:",chardata"`
		} `xml:"pkg-ref"`
		Choices []struct {
			ID string `xml:"id,attr"`
		} `xml:"choice"`
	}
	if err := xml.Unmarshal(b, &d); err != nil {
		t.Fatalf("Distribution is not XML: %v\n%s", err, b)
	}
	if d.Title != "Ghostwire" || d.Options.Customize != "never" || d.Options.Arch != "arm64,x86_64" || d.Options.RootOnly != "true" ||
		d.Domains.Local != "true" || d.Domains.Home != "false" || d.MinOS.Min != MinimumMacOS {
		t.Errorf("Distribution %+v", d)
	}
	if len(d.PkgRef) != 1 || d.PkgRef[0].ID != PkgID || d.PkgRef[0].Version != "1.4.0+git3.1a2b3c4d5e6f" || d.PkgRef[0].File != ComponentPkg {
		t.Errorf("pkg-ref %+v", d.PkgRef)
	}
}

// The example profile is what the generator writes, and what macOS would
// write from it into Managed Preferences presets the cluster.
func TestPresetProfile(t *testing.T) {
	b, err := PresetProfile("https://vpn.corp.example", "prod", "Example Corp")
	if err != nil {
		t.Fatal(err)
	}
	golden, err := os.ReadFile("examples/ghostwire-preset.mobileconfig")
	if err != nil || !bytes.Equal(b, golden) {
		t.Errorf("examples/ghostwire-preset.mobileconfig is not the generator's output (go run ./macos/profile -server https://vpn.corp.example -profile prod -org \"Example Corp\"): %v", err)
	}
	var p map[string]any
	if _, err := plist.Unmarshal(b, &p); err != nil {
		t.Fatal(err)
	}
	if p["PayloadType"] != "Configuration" || p["PayloadScope"] != "System" {
		t.Errorf("profile %v", p)
	}
	content, _ := p["PayloadContent"].([]any)
	if len(content) != 1 {
		t.Fatalf("content %v", content)
	}
	payload := content[0].(map[string]any)
	if payload["PayloadType"] != preset.PreferenceDomain {
		t.Errorf("the payload's type must be the preference domain: %v", payload["PayloadType"])
	}
	// macOS writes the payload's settings to /Library/Managed Preferences/<domain>.plist.
	settings := map[string]any{}
	for k, v := range payload {
		if !strings.HasPrefix(k, "Payload") {
			settings[k] = v
		}
	}
	managed, _ := plist.Marshal(settings, plist.BinaryFormat)
	got, err := preset.ParseManagedPreferences(managed, "managed")
	if err != nil || got == nil || got.Server != "https://vpn.corp.example" || got.Profile != "prod" {
		t.Errorf("the profile's settings as the daemon reads them: %+v %v", got, err)
	}
	if _, err := PresetProfile("http://vpn.corp.example", "", ""); err == nil {
		t.Error("a clear-text server must be refused")
	}
	again, _ := PresetProfile("https://vpn.corp.example", "prod", "Example Corp")
	if !bytes.Equal(b, again) {
		t.Error("the same settings must give the same profile (its UUIDs)")
	}
}

func TestBuilderCommands(t *testing.T) {
	adhoc := signing{}
	if got := strings.Join(codesignArgs(adhoc, "/w/Ghostwire.app"), " "); got != "--force --options runtime --identifier com.ghostwire.Ghostwire --sign - --timestamp=none /w/Ghostwire.app" {
		t.Errorf("ad-hoc codesign: %s", got)
	}
	if r := adhoc.testBuildReasons(); len(r) != 3 {
		t.Errorf("an ad-hoc, unsigned, unnotarized pkg is a test build: %v", r)
	}
	if got := strings.Join(productbuildArgs(adhoc, "D.xml", "pkgs", "out.pkg"), " "); got != "--distribution D.xml --package-path pkgs out.pkg" {
		t.Errorf("unsigned productbuild: %s", got)
	}
	id := signingFromEnv(func(k string) string {
		return map[string]string{
			"GHOSTWIRE_MACOS_APP_IDENTITY": "Developer ID Application: Example (TEAM123)", "GHOSTWIRE_MACOS_INSTALLER_IDENTITY": "Developer ID Installer: Example (TEAM123)",
			"GHOSTWIRE_MACOS_KEYCHAIN": "build.keychain", "GHOSTWIRE_NOTARY_KEY": "key.p8", "GHOSTWIRE_NOTARY_KEY_ID": "KID", "GHOSTWIRE_NOTARY_ISSUER": "ISS",
		}[k]
	})
	if got := strings.Join(codesignArgs(id, "A.app"), " "); !strings.Contains(got, "--sign Developer ID Application: Example (TEAM123) --timestamp --keychain build.keychain A.app") ||
		!strings.Contains(got, "--options runtime") {
		t.Errorf("Developer ID codesign: %s", got)
	}
	if got := strings.Join(productbuildArgs(id, "D.xml", "pkgs", "out.pkg"), " "); !strings.Contains(got, "--sign Developer ID Installer: Example (TEAM123) --timestamp --keychain build.keychain out.pkg") {
		t.Errorf("signed productbuild: %s", got)
	}
	if got := strings.Join(notaryArgs(id, "out.pkg"), " "); got != "notarytool submit out.pkg --key key.p8 --key-id KID --issuer ISS --wait" {
		t.Errorf("notarytool: %s", got)
	}
	if r := id.testBuildReasons(); len(r) != 0 || !id.notarize() {
		t.Errorf("a Developer ID signed and notarized pkg is a release: %v", r)
	}
	if got := strings.Join(pkgbuildArgs("root", "scripts", "c.plist", "1.4.0", "c.pkg"), " "); got !=
		"--root root --scripts scripts --component-plist c.plist --identifier com.ghostwire.Ghostwire.pkg --version 1.4.0 --install-location / --ownership recommended c.pkg" {
		t.Errorf("pkgbuild: %s", got)
	}
	if runtime.GOOS != "darwin" && !strings.Contains(Builder{}.Unavailable(), "only on macOS") {
		t.Errorf("off a Mac the pkg must be listed as not built, with why: %q", Builder{}.Unavailable())
	}
}
