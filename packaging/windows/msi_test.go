package windows

import (
	"bytes"
	"context"
	"debug/pe"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/ghostwire/ghostwire/packaging/release"
)

// The system tests take the MSI from $GHOSTWIRE_DIST (`make
// test-packaging-windows` builds dist/ first), or build it here.

var (
	distOnce sync.Once
	distDir  string
	distErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if distDir != "" && os.Getenv("GHOSTWIRE_DIST") == "" {
		os.RemoveAll(filepath.Dir(distDir))
	}
	os.Exit(code)
}

// builtMSI returns the MSI and the manifest's entry for it.
func builtMSI(t *testing.T) (string, release.Artifact, string) {
	t.Helper()
	if err := CheckTools(); err != nil {
		t.Fatal(err)
	}
	distOnce.Do(func() {
		if d := os.Getenv("GHOSTWIRE_DIST"); d != "" {
			distDir = d
			return
		}
		tmp, err := os.MkdirTemp("", "gwmsi-")
		if err != nil {
			distErr = err
			return
		}
		distDir = filepath.Join(tmp, "dist")
		root, _ := filepath.Abs("../..")
		v, err := release.FromGit(context.Background(), root)
		if err != nil {
			distErr = err
			return
		}
		b := &release.Build{Version: v, Root: root, Dist: distDir, Work: filepath.Join(tmp, "work"), Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
		_, distErr = release.Run(context.Background(), b, map[string]release.Builder{"windows": Builder{}},
			func(t release.Target) bool { return t.Builder == "windows" })
	})
	if distErr != nil {
		t.Fatalf("building the MSI: %v", distErr)
	}
	m, err := release.LoadManifest(distDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range m.Artifacts {
		if a.Format == "msi" {
			return filepath.Join(distDir, a.File), a, m.Version
		}
	}
	t.Fatalf("%s has no MSI: run `make packages`", distDir)
	return "", release.Artifact{}, ""
}

func table(t *testing.T, msi, name string) [][]string {
	t.Helper()
	rows, err := exportTable(context.Background(), msi, name)
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

// row finds the row whose column col is key.
func row(t *testing.T, rows [][]string, col int, key string) []string {
	t.Helper()
	for _, r := range rows {
		if len(r) > col && r[col] == key {
			return r
		}
	}
	t.Fatalf("no row with %q in column %d: %v", key, col, rows)
	return nil
}

// The MSI's tables (msiinfo export) hold what the installer must do.
func TestSystemMSITables(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the MSI (wixl): in the system pass")
	}
	msi, a, ver := builtMSI(t)

	props := table(t, msi, "Property")
	pv := row(t, props, 0, "ProductVersion")[1]
	if want, _ := ProductVersion(mustParseVersion(t, ver)); pv != want {
		t.Errorf("ProductVersion %s, want %s", pv, want)
	}
	if got := row(t, props, 0, "UpgradeCode")[1]; !strings.EqualFold(got, "{"+UpgradeCode+"}") {
		t.Errorf("UpgradeCode %s", got)
	}
	if row(t, props, 0, "ALLUSERS")[1] != "1" {
		t.Error("not a per-machine install")
	}
	if got := row(t, props, 0, "SecureCustomProperties")[1]; got != strings.Join(SecureProperties, ";") {
		t.Errorf("SecureCustomProperties %s", got)
	}

	// The service, as app/service registers it.
	svc := row(t, table(t, msi, "ServiceInstall"), 1, "ghostwire")
	// ServiceInstall: Id Name DisplayName ServiceType StartType ErrorControl LoadOrderGroup Dependencies StartName Password Arguments Component Description
	if svc[2] != "Ghostwire VPN" || svc[3] != "16" || svc[4] != "2" || svc[5] != "1" || svc[7] != "Nsi[~]TcpIp[~]Dnscache[~][~]" ||
		svc[8] != "LocalSystem" || svc[10] != "daemon" || svc[11] != "CLI" {
		t.Errorf("ServiceInstall %q", svc)
	}
	// start on install, stop on install and removal, delete on removal, wait.
	if ctl := row(t, table(t, msi, "ServiceControl"), 1, "ghostwire"); ctl[2] != "163" || ctl[4] != "1" {
		t.Errorf("ServiceControl %q", ctl)
	}

	reg := map[string]string{} // key\name → value
	for _, r := range table(t, msi, "Registry") {
		reg[r[2]+`\`+r[3]] = r[4]
	}
	for k, want := range map[string]string{
		`SOFTWARE\Microsoft\Windows\CurrentVersion\Run\Ghostwire`:                           `"[INSTALLDIR]ghostwire-tray.exe" tray --at-login`,
		`SOFTWARE\Classes\ghostwire\`:                                                       "URL:Ghostwire connect link",
		`SOFTWARE\Classes\ghostwire\URL Protocol`:                                           "",
		`SOFTWARE\Classes\ghostwire\shell\open\command\`:                                    `"[INSTALLDIR]ghostwire-tray.exe" open-link "%1"`,
		`SOFTWARE\Policies\Ghostwire\ServerURL`:                                             "[SERVERURL]",
		`SOFTWARE\Policies\Ghostwire\Profile`:                                               "[PROFILE]",
		`SOFTWARE\Ghostwire\InteractiveUsers`:                                               "[INTERACTIVEUSERS]",
		`SYSTEM\CurrentControlSet\Services\EventLog\Application\ghostwire\EventMessageFile`: `#%%SystemRoot%\System32\EventCreate.exe`,
	} {
		if got, ok := reg[k]; !ok || got != want {
			t.Errorf("Registry %s = %q (present %v), want %q", k, got, ok, want)
		}
	}
	// The preset values only with SERVERURL.
	if c := row(t, table(t, msi, "Component"), 0, "Preset"); c[4] != PropServer {
		t.Errorf("the Preset component's condition is %q", c[4])
	}

	sc := row(t, table(t, msi, "Shortcut"), 0, "StartMenu")
	if sc[1] != "ProgramMenuFolder" || sc[2] != "Ghostwire" || sc[4] != "[INSTALLDIR]ghostwire-tray.exe" {
		t.Errorf("Shortcut %q", sc)
	}

	// Upgrades: any older or same version is replaced, a newer one blocks.
	var up, down []string
	for _, r := range table(t, msi, "Upgrade") {
		switch r[6] {
		case "WIX_UPGRADE_DETECTED":
			up = r
		case "WIX_DOWNGRADE_DETECTED":
			down = r
		}
	}
	if up == nil || up[2] != pv || up[4] != "769" || down == nil || down[1] != pv || down[4] != "2" {
		t.Errorf("Upgrade rows %q %q", up, down)
	}
	if lc := table(t, msi, "LaunchCondition"); len(lc) != 2 {
		t.Errorf("LaunchCondition: want the 64-bit and the downgrade conditions, got %q", lc)
	}

	// Order: the old version goes right after InstallValidate; the purge
	// between stopping and deleting the service, on removal only.
	seq := map[string]string{}
	cond := map[string]string{}
	for _, r := range table(t, msi, "InstallExecuteSequence") {
		seq[r[0]], cond[r[0]] = r[2], r[1]
	}
	for action, want := range map[string]string{"RemoveExistingProducts": "1401", "StopServices": "1900", "Purge": "1950", "DeleteServices": "2000",
		"SaveSERVERURL": "49", "AppSearch": "50", "RestoreSERVERURL": "51", "DefaultINTERACTIVEUSERS": "52", "StartServices": "5900"} {
		if seq[action] != want {
			t.Errorf("InstallExecuteSequence %s at %s, want %s", action, seq[action], want)
		}
	}
	if cond["Purge"] != PurgeCondition {
		t.Errorf("the purge runs on %q", cond["Purge"])
	}
	ca := row(t, table(t, msi, "CustomAction"), 0, "Purge")
	// 3154 = exe from an installed file (18) + ignore its exit code (64) + deferred (1024) + as SYSTEM (2048).
	if ca[1] != "3154" || ca[2] != "ghostwire.exe" || ca[3] != "daemon purge" {
		t.Errorf("the purge action %q", ca)
	}

	// The files.
	out := t.TempDir()
	if o, err := exec.Command("msiextract", "-C", out, msi).CombinedOutput(); err != nil {
		t.Fatalf("msiextract: %v\n%s", err, o)
	}
	for _, f := range []string{CLIExe, TrayExe, WintunDLL} {
		if _, err := os.Stat(filepath.Join(out, InstallFolder, f)); err != nil {
			t.Errorf("the MSI lacks %s: %v", f, err)
		}
	}
	for _, b := range a.Binaries {
		if sum, _ := release.FileSHA256(filepath.Join(out, InstallFolder, b.Name)); sum != b.SHA256 {
			t.Errorf("%s in the MSI is not the one the SBOM names", b.Name)
		}
	}
	if tray := peSubsystem(t, filepath.Join(out, InstallFolder, TrayExe)); tray != 2 {
		t.Errorf("%s has PE subsystem %d, want 2 (GUI: no console window)", TrayExe, tray)
	}
	if cli := peSubsystem(t, filepath.Join(out, InstallFolder, CLIExe)); cli != 3 {
		t.Errorf("%s has PE subsystem %d, want 3 (console)", CLIExe, cli)
	}
}

// Authenticode: every program and the MSI verify against the build's
// throwaway CA (and only it), and one changed byte breaks each.
func TestSystemMSISignatures(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the MSI (wixl): in the system pass")
	}
	msi, a, _ := builtMSI(t)
	ca := filepath.Join(filepath.Dir(msi), TestSigningCAFile)
	if _, err := os.Stat(ca); err != nil {
		if len(a.TestBuild) == 0 {
			t.Skip("a release build (real certificate): its signatures are checked against the system's CAs by Windows")
		}
		t.Fatalf("a throwaway-signed build must leave its CA in dist: %v", err)
	}
	if !strings.Contains(strings.Join(a.TestBuild, ";"), "throwaway") {
		t.Errorf("a throwaway-signed MSI must be a test build: %v", a.TestBuild)
	}
	out := t.TempDir()
	if o, err := exec.Command("msiextract", "-C", out, msi).CombinedOutput(); err != nil {
		t.Fatalf("msiextract: %v\n%s", err, o)
	}
	ctx := context.Background()
	for _, f := range []string{msi, filepath.Join(out, InstallFolder, CLIExe), filepath.Join(out, InstallFolder, TrayExe)} {
		if err := Verify(ctx, f, ca); err != nil {
			t.Error(err)
		}
		if err := Verify(ctx, f, ""); err == nil {
			t.Errorf("%s verifies against the system's CAs: a throwaway CA must not be trusted", filepath.Base(f))
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		// A byte of signed content: in a program, its middle (code); in the
		// MSI, inside the embedded cabinet (a compound file also has free
		// sectors and padding, which the signature rightly does not cover).
		at := len(b) / 3
		if strings.HasSuffix(f, ".msi") {
			cab := bytes.Index(b, []byte("MSCF\x00\x00\x00\x00"))
			if cab < 0 {
				t.Fatal("no cabinet in the MSI")
			}
			at = cab + 200
		}
		b[at] ^= 0x01
		tampered := filepath.Join(t.TempDir(), filepath.Base(f))
		os.WriteFile(tampered, b, 0o644)
		if err := Verify(ctx, tampered, ca); err == nil {
			t.Errorf("%s with one changed byte still verifies", filepath.Base(f))
		}
	}
	if err := release.Publishable(filepath.Dir(msi)); err == nil || !strings.Contains(err.Error(), "throwaway") {
		t.Errorf("packages check must refuse a throwaway-signed MSI: %v", err)
	}
}

func mustParseVersion(t *testing.T, s string) release.Version {
	t.Helper()
	// The manifest's version string: MAJOR.MINOR.PATCH[-PRE][+gitN.HASH[.dirty]].
	var v release.Version
	base, build, _ := strings.Cut(s, "+")
	base, v.Pre, _ = strings.Cut(base, "-")
	if _, err := fmt.Sscanf(base, "%d.%d.%d", &v.Major, &v.Minor, &v.Patch); err != nil {
		t.Fatalf("version %q: %v", s, err)
	}
	if strings.HasPrefix(build, "git") {
		n, _, _ := strings.Cut(strings.TrimPrefix(build, "git"), ".")
		v.Commits, _ = strconv.Atoi(n)
	}
	return v
}

// peSubsystem reads the PE optional header's Subsystem field.
func peSubsystem(t *testing.T, path string) int {
	t.Helper()
	f, err := pe.Open(path)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	defer f.Close()
	oh, ok := f.OptionalHeader.(*pe.OptionalHeader64)
	if !ok {
		t.Fatalf("%s is not a 64-bit program", path)
	}
	return int(oh.Subsystem)
}
