package windows

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/ghostwire/ghostwire/packaging/release"
)

// The MSI installed, upgraded and removed with Wine's msiexec in a Wine
// prefix of the test's own (so `make test-windows`, which has its own,
// is not disturbed), with the ProcessPrng stand-in Go programs need
// (internal/wine). Under Wine the service really starts: the daemon runs
// as a service, applies the MSI's preset and answers `ghostwire status`
// over its named pipe. What Wine cannot show: wintun (a kernel driver; the
// MSI holds a placeholder here), routes and DNS, the trust of a
// signature, Restart Manager closing a running tray, and where Windows puts
// an all-users Start-menu entry (Wine resolves ProgramMenuFolder to the
// user's folder). The hosted Windows runner installs the same MSI for
// real (.github/workflows/desktop.yml, job windows).

type wine struct {
	t      *testing.T
	prefix string
}

func newWine(t *testing.T) *wine {
	t.Helper()
	shim := os.Getenv("GHOSTWIRE_WINE_SHIM")
	if shim == "" {
		t.Fatal("GHOSTWIRE_WINE_SHIM is not set: run through `make test-packaging-windows` (it builds the ProcessPrng stand-in Go programs need under Wine)")
	}
	if _, err := exec.LookPath("wine"); err != nil {
		t.Fatal("wine is missing: `make deps` installs it")
	}
	w := &wine{t: t, prefix: filepath.Join(t.TempDir(), "prefix")}
	t.Cleanup(func() {
		cmd := exec.Command("wineserver", "-k")
		cmd.Env = w.env()
		_ = cmd.Run()
	})
	if out, err := w.run(3*time.Minute, "wineboot", "--init"); err != nil {
		t.Fatalf("wineboot: %v\n%s", err, out)
	}
	cmd := exec.Command("wineserver", "-w")
	cmd.Env = w.env()
	_ = cmd.Run()
	b, err := os.ReadFile(shim)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(w.path(`C:\windows\system32\bcryptprimitives.dll`), b, 0o644); err != nil {
		t.Fatal(err)
	}
	return w
}

func (w *wine) env() []string {
	return append(os.Environ(), "WINEPREFIX="+w.prefix, "WINEDEBUG=-all", "WINEDLLOVERRIDES=mscoree,mshtml=", "DISPLAY=")
}

// path maps a C:\ path into the prefix.
func (w *wine) path(win string) string {
	rest := strings.ReplaceAll(strings.TrimPrefix(strings.TrimPrefix(win, `C:\`), `c:\`), `\`, "/")
	return filepath.Join(w.prefix, "drive_c", rest)
}

func (w *wine) run(timeout time.Duration, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "wine", args...)
	cmd.Env = w.env()
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// regdump reads keys of HKLM (and what is under them) with
// testdata/regdump in one Wine process: lower-case key + "\x00" + value
// name → [type, value], and lower-case key + "\x00KEY" for each key.
func (w *wine) regdump(keys ...string) map[string][2]string {
	w.t.Helper()
	if _, err := os.Stat(w.path(`C:\regdump.exe`)); err != nil {
		cmd := exec.Command("go", "build", "-o", w.path(`C:\regdump.exe`), "./testdata/regdump")
		cmd.Env = append(os.Environ(), "GOOS=windows", "GOARCH=amd64", "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			w.t.Fatalf("building regdump: %v\n%s", err, out)
		}
	}
	args := []string{`C:\regdump.exe`}
	for _, k := range keys {
		args = append(args, strings.TrimPrefix(k, `HKLM\`))
	}
	out, err := w.run(2*time.Minute, args...)
	if err != nil {
		w.t.Fatalf("regdump: %v\n%s", err, out)
	}
	got := map[string][2]string{}
	for _, l := range strings.Split(out, "\n") {
		var v struct{ Key, Name, Type, Value string }
		if json.Unmarshal([]byte(strings.TrimSpace(l)), &v) != nil {
			continue
		}
		k := strings.ToLower(`hklm\` + v.Key)
		if v.Type == "KEY" {
			got[k+"\x00KEY"] = [2]string{"KEY", ""}
			continue
		}
		got[k+"\x00"+v.Name] = [2]string{v.Type, v.Value}
	}
	return got
}

// regValues reads key\name pairs ("" name: the key's default value).
func (w *wine) regValues(names [][2]string) map[[2]string][2]string {
	var keys []string
	for _, kv := range names {
		keys = append(keys, kv[0])
	}
	all := w.regdump(keys...)
	got := map[[2]string][2]string{}
	for _, kv := range names {
		if v, ok := all[strings.ToLower(kv[0])+"\x00"+kv[1]]; ok {
			got[kv] = v
		}
	}
	return got
}

// keysExist says which keys exist.
func (w *wine) keysExist(keys []string) map[string]bool {
	all := w.regdump(keys...)
	got := map[string]bool{}
	for _, k := range keys {
		_, got[k] = all[strings.ToLower(k)+"\x00KEY"]
	}
	return got
}

// msiexec runs msiexec with a verbose log, failing the test on an error.
func (w *wine) msiexec(args ...string) {
	w.t.Helper()
	log := fmt.Sprintf(`C:\msiexec-%d.log`, time.Now().UnixNano())
	out, err := w.run(5*time.Minute, append(append([]string{"msiexec"}, args...), "/l*v", log)...)
	if err != nil {
		b, _ := os.ReadFile(w.path(log))
		w.t.Fatalf("msiexec %s: %v\n%s\nlog (tail):\n%s", strings.Join(args, " "), err, out, tail(string(b), 60))
	}
}

func tail(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// eventually polls f for up to d.
func eventually(d time.Duration, f func() bool) bool {
	for end := time.Now().Add(d); ; time.Sleep(200 * time.Millisecond) {
		if f() {
			return true
		}
		if time.Now().After(end) {
			return false
		}
	}
}

const (
	wineProgramFiles = `C:\Program Files\Ghostwire`
	wineRunKey       = `HKLM\Software\Microsoft\Windows\CurrentVersion\Run`
	wineServiceKey   = `HKLM\SYSTEM\CurrentControlSet\Services\ghostwire`
	wineEventKey     = `HKLM\SYSTEM\CurrentControlSet\Services\EventLog\Application\ghostwire`
	wineLinkKey      = `HKLM\Software\Classes\ghostwire`
	winePolicyKey    = `HKLM\Software\Policies\Ghostwire`
	wineSettingsKey  = `HKLM\Software\Ghostwire`
	wineUninstallKey = `HKLM\Software\Microsoft\Windows\CurrentVersion\Uninstall\`
)

func TestSystemMSIUnderWine(t *testing.T) {
	if testing.Short() {
		t.Skip("installs the MSI under Wine (~40 s): in the system pass")
	}
	msi, art, _ := builtMSI(t)
	start := time.Now()
	step := func(what string) { t.Logf("%5.1fs %s", time.Since(start).Seconds(), what) }
	w := newWine(t)
	step("Wine prefix ready")
	b, err := os.ReadFile(msi)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(w.path(`C:\ghostwire.msi`), b, 0o644); err != nil {
		t.Fatal(err)
	}
	gw := wineProgramFiles + `\ghostwire.exe`
	status := func() string { out, _ := w.run(time.Minute, gw, "status"); return out }

	// Intune's command line: unattended, the cluster preset.
	w.msiexec("/i", `C:\ghostwire.msi`, "/qn", "SERVERURL=https://vpn.corp.example", "PROFILE=prod", "INTERACTIVEUSERS=0")
	step("installed")

	for _, bin := range art.Binaries {
		if sum, err := release.FileSHA256(w.path(wineProgramFiles + `\` + bin.Name)); err != nil || sum != bin.SHA256 {
			t.Errorf("installed %s: %v (or not the signed program of the build)", bin.Name, err)
		}
	}
	if _, err := os.Stat(w.path(wineProgramFiles + `\wintun.dll`)); err != nil {
		t.Errorf("wintun.dll is not beside the programs: %v", err)
	}
	want := map[[2]string]string{
		{wineRunKey, "Ghostwire"}:                 `"C:\Program Files\Ghostwire\ghostwire-tray.exe" tray --at-login`,
		{wineLinkKey, ""}:                         "URL:Ghostwire connect link",
		{wineLinkKey, "URL Protocol"}:             "",
		{wineLinkKey + `\shell\open\command`, ""}: `"C:\Program Files\Ghostwire\ghostwire-tray.exe" open-link "%1"`,
		{winePolicyKey, "ServerURL"}:              "https://vpn.corp.example",
		{winePolicyKey, "Profile"}:                "prod",
		{wineSettingsKey, "InteractiveUsers"}:     "0",
		{wineServiceKey, "ObjectName"}:            "LocalSystem",
		{wineServiceKey, "Start"}:                 "0x2",
		{wineServiceKey, "Type"}:                  "0x10",
		{wineServiceKey, "DependOnService"}:       `Nsi\0TcpIp\0Dnscache`,
		{wineEventKey, "EventMessageFile"}:        `%SystemRoot%\System32\EventCreate.exe`,
		{wineEventKey, "TypesSupported"}:          "0x7",
		{wineServiceKey, "DisplayName"}:           "Ghostwire VPN",
		{wineServiceKey, "ImagePath"}:             `"C:\Program Files\Ghostwire\ghostwire.exe" daemon`,
	}
	check := func(when string) {
		t.Helper()
		var names [][2]string
		for kv := range want {
			names = append(names, kv)
		}
		got := w.regValues(names)
		for kv, v := range want {
			if g, ok := got[kv]; !ok || g[1] != v {
				t.Errorf("%s: %s\\%s = %q (present %v), want %q", when, kv[0], kv[1], g[1], ok, v)
			}
		}
	}
	// The service started (Wine runs the Go service), applied the preset
	// and answers over its pipe; it quoted its own program path and set its
	// recovery actions at start.
	if !eventually(90*time.Second, func() bool { return strings.Contains(status(), "prod: disconnected") }) {
		t.Fatalf("ghostwire status after the install: %s", status())
	}
	if s := status(); !strings.Contains(s, "https://vpn.corp.example") {
		t.Errorf("the preset's server is not shown: %s", s)
	}
	// (The service also sets its recovery actions at start; Wine keeps none,
	// so `sc qfailure` on the Windows runner checks them.)
	step("status answered")
	check("installed")
	step("registry checked")
	lnk := findFile(t, filepath.Join(w.prefix, "drive_c"), "Ghostwire.lnk")
	if lnk == "" {
		t.Error("no Start-menu entry Ghostwire.lnk")
	}
	if _, err := os.Stat(w.path(`C:\ProgramData\ghostwire\profiles.json`)); err != nil {
		t.Errorf("the daemon's state is not in C:\\ProgramData\\ghostwire: %v", err)
	}

	// A newer build (the same version, another ProductCode: every commit's
	// MSI) replaces it, with no property on the command line: the preset,
	// the access setting and the profiles stay.
	oldCode := row(t, table(t, msi, "Property"), 0, "ProductCode")[1]
	next := filepath.Join(t.TempDir(), "next.msi")
	newCode := nextBuild(t, msi, next)
	b, _ = os.ReadFile(next)
	os.WriteFile(w.path(`C:\ghostwire-next.msi`), b, 0o644)
	w.msiexec("/i", `C:\ghostwire-next.msi`, "/qn")
	step("upgraded")
	if k := w.keysExist([]string{wineUninstallKey + oldCode, wineUninstallKey + newCode}); k[wineUninstallKey+oldCode] || !k[wineUninstallKey+newCode] {
		t.Errorf("after the upgrade: old product registered %v, new %v", k[wineUninstallKey+oldCode], k[wineUninstallKey+newCode])
	}
	if !eventually(90*time.Second, func() bool { return strings.Contains(status(), "prod: disconnected") }) {
		t.Errorf("ghostwire status after the upgrade: %s", status())
	}
	check("upgraded")
	step("upgrade checked")

	// Removal stops the service (its DNS rules go with it), runs the purge
	// and leaves nothing: no file, no key, no value, no service.
	w.msiexec("/x", newCode, "/qn")
	step("removed")
	for _, p := range []string{wineProgramFiles, `C:\ProgramData\ghostwire`} {
		if _, err := os.Stat(w.path(p)); !os.IsNotExist(err) {
			t.Errorf("%s is left after removal: %v", p, err)
		}
	}
	if lnk != "" {
		if _, err := os.Stat(lnk); !os.IsNotExist(err) {
			t.Errorf("the Start-menu entry is left: %v", err)
		}
	}
	left := []string{wineServiceKey, wineEventKey, wineLinkKey, winePolicyKey, wineSettingsKey, wineUninstallKey + newCode}
	for k, there := range w.keysExist(left) {
		if there {
			t.Errorf("%s is left after removal", k)
		}
	}
	if _, ok := w.regValues([][2]string{{wineRunKey, "Ghostwire"}})[[2]string{wineRunKey, "Ghostwire"}]; ok {
		t.Error("the HKLM Run value is left after removal")
	}
}

// nextBuild writes a copy of msi as another build of the same version: a
// new ProductCode and package code, as the next commit's MSI has.
func nextBuild(t *testing.T, msi, out string) string {
	t.Helper()
	b, err := os.ReadFile(msi)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(out, b, 0o644)
	code := "{" + strings.ToUpper(uuid.NewString()) + "}"
	ctx := context.Background()
	if err := msibuild(ctx, out, "UPDATE `Property` SET `Value` = '"+code+"' WHERE `Property` = 'ProductCode'"); err != nil {
		t.Fatal(err)
	}
	if o, err := exec.Command("msibuild", out, "-s", "Ghostwire", release.Vendor, "x64;1033", "{"+strings.ToUpper(uuid.NewString())+"}").CombinedOutput(); err != nil {
		t.Fatalf("msibuild -s: %v\n%s", err, o)
	}
	return code
}

func findFile(t *testing.T, root, name string) string {
	t.Helper()
	var found string
	_ = filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && d.Name() == name {
			found = p
			return filepath.SkipAll
		}
		return nil
	})
	return found
}
