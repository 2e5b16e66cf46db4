package windows

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tc-hib/winres"
	"github.com/tc-hib/winres/version"

	"github.com/ghostwire/ghostwire/app/service"
	"github.com/ghostwire/ghostwire/packaging/release"
)

func TestProductVersionAndCode(t *testing.T) {
	v := release.Version{Major: 1, Minor: 4, Patch: 2, Tag: "v1.4.2", Commits: 3, Hash: "1a2b3c4d5e6f"}
	if pv, err := ProductVersion(v); err != nil || pv != "1.4.2.3" {
		t.Errorf("ProductVersion = %q %v", pv, err)
	}
	if _, err := ProductVersion(release.Version{Major: 256}); err == nil {
		t.Error("a major version above 255 must be refused")
	}
	a, b := ProductCode(v, "x64"), ProductCode(v, "x64")
	v.Commits++
	if a != b || a == ProductCode(v, "x64") {
		t.Errorf("the ProductCode is the version's: %s %s %s", a, b, ProductCode(v, "x64"))
	}
}

// The WiX source is well-formed XML and holds what the MSI must do, with
// the values of the code that uses them.
func TestWXS(t *testing.T) {
	src, err := WXS(release.Version{Major: 1, Minor: 4, Commits: 2, Hash: "1a2b3c4d5e6f"})
	if err != nil {
		t.Fatal(err)
	}
	dec := xml.NewDecoder(bytes.NewReader(src))
	for {
		if _, err := dec.Token(); err != nil {
			if err.Error() != "EOF" {
				t.Fatalf("the WiX source is not well-formed XML: %v\n%s", err, src)
			}
			break
		}
	}
	s := string(src)
	for _, want := range []string{
		`UpgradeCode="` + UpgradeCode + `"`, `Version="1.4.0.2"`, `InstallScope="perMachine"`, "<MajorUpgrade",
		`Name="ghostwire" DisplayName="Ghostwire VPN"`, `Account="LocalSystem" Arguments="daemon"`, `Start="auto"`,
		`<ServiceDependency Id="Nsi"/>`, `<ServiceDependency Id="TcpIp"/>`, `<ServiceDependency Id="Dnscache"/>`,
		`Start="install" Stop="both" Remove="uninstall" Wait="yes"`,
		`Key="SOFTWARE\Microsoft\Windows\CurrentVersion\Run" Name="Ghostwire" Type="string" Value="&quot;[INSTALLDIR]ghostwire-tray.exe&quot; tray --at-login"`,
		`Key="SOFTWARE\Classes\ghostwire\shell\open\command" Type="string" Value="&quot;[INSTALLDIR]ghostwire-tray.exe&quot; open-link &quot;%1&quot;"`,
		`Name="URL Protocol"`, `Key="SOFTWARE\Policies\Ghostwire" Name="ServerURL" Type="string" Value="[SERVERURL]"`,
		`Key="SOFTWARE\Ghostwire" Name="InteractiveUsers" Type="string" Value="[INTERACTIVEUSERS]"`,
		`ExeCommand="daemon purge" Execute="deferred" Impersonate="no" Return="ignore"`,
		`REMOVE~=&quot;ALL&quot; AND NOT UPGRADINGPRODUCTCODE`,
		`<Shortcut Id="StartMenu" Directory="ProgramMenuFolder" Name="Ghostwire"`,
	} {
		if !strings.Contains(s, want) {
			t.Errorf("the WiX source lacks %s", want)
		}
	}
	if !slices.Equal(service.WindowsDependencies, []string{"Nsi", "TcpIp", "Dnscache"}) || service.WindowsArgs[0] != "daemon" {
		t.Errorf("app/service changed: check the MSI's service")
	}
}

func TestSignerFromEnv(t *testing.T) {
	env := func(kv ...string) func(string) string {
		return func(k string) string {
			for i := 0; i < len(kv); i += 2 {
				if kv[i] == k {
					return kv[i+1]
				}
			}
			return ""
		}
	}
	if s, err := SignerFromEnv(env()); s != nil || err != nil {
		t.Fatalf("nothing set: %+v %v", s, err)
	}
	pfx := filepath.Join(t.TempDir(), "release.pfx")
	os.WriteFile(pfx, []byte("x"), 0o600)
	s, err := SignerFromEnv(env("GHOSTWIRE_SIGN_PFX", pfx, "GHOSTWIRE_SIGN_PFX_PASSWORD", "hunter2", "GHOSTWIRE_SIGN_TIMESTAMP_URL", "http://ts.example"))
	if err != nil {
		t.Fatal(err)
	}
	args := strings.Join(s.args("in.exe", "out.exe", "Ghostwire"), " ")
	if !strings.Contains(args, "-pkcs12 "+pfx) || !strings.Contains(args, "-readpass -") || !strings.Contains(args, "-ts http://ts.example") ||
		strings.Contains(args, "hunter2") || len(s.TestBuildReasons()) != 0 {
		t.Errorf("PFX: %s %v", args, s.TestBuildReasons())
	}
	s, err = SignerFromEnv(env("GHOSTWIRE_SIGN_PKCS11_MODULE", "/usr/lib/p11.so", "GHOSTWIRE_SIGN_PKCS11_KEY", "pkcs11:object=gw", "GHOSTWIRE_SIGN_PKCS11_CERT", "chain.pem"))
	if err != nil {
		t.Fatal(err)
	}
	if args := strings.Join(s.args("a", "b", "c"), " "); !strings.Contains(args, "-pkcs11module /usr/lib/p11.so -key pkcs11:object=gw -certs chain.pem") {
		t.Errorf("PKCS#11: %s", args)
	}
	if r := s.TestBuildReasons(); len(r) != 1 || !strings.Contains(r[0], "timestamp") {
		t.Errorf("a signature without a timestamp must not be a release: %v", r)
	}
	for _, bad := range []func(string) string{
		env("GHOSTWIRE_SIGN_PFX", pfx, "GHOSTWIRE_SIGN_PKCS11_MODULE", "m"),
		env("GHOSTWIRE_SIGN_PKCS11_MODULE", "m"),
		env("GHOSTWIRE_SIGN_PFX", "/nonexistent.pfx"),
		env("GHOSTWIRE_SIGN_TIMESTAMP_URL", "http://ts.example"),
	} {
		if _, err := SignerFromEnv(bad); err == nil {
			t.Error("an incomplete signing setup must be refused")
		}
	}
}

// wintun.dll only from a zip whose SHA-256 is the pinned one.
func TestWintunZip(t *testing.T) {
	dir := t.TempDir()
	zpath := filepath.Join(dir, "wintun.zip")
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for name, body := range map[string]string{"wintun/bin/amd64/wintun.dll": "MZ amd64", "wintun/bin/arm64/wintun.dll": "MZ arm64", "wintun/LICENSE.txt": "license"} {
		w, _ := zw.Create(name)
		w.Write([]byte(body))
	}
	zw.Close()
	os.WriteFile(zpath, buf.Bytes(), 0o644)
	sum := sha256.Sum256(buf.Bytes())
	out := filepath.Join(dir, "wintun.dll")
	if err := extractWintun(zpath, hex.EncodeToString(sum[:]), "amd64", out); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(out); string(b) != "MZ amd64" {
		t.Errorf("extracted %q", b)
	}
	if err := extractWintun(zpath, WintunZipSHA256, "amd64", out); err == nil || !strings.Contains(err.Error(), "not the pinned") {
		t.Errorf("a zip that is not the official one must be refused: %v", err)
	}
	if err := extractWintun(zpath, hex.EncodeToString(sum[:]), "386", out); err == nil {
		t.Error("a missing architecture must be reported")
	}
}

// The version resource and icon go into a real Windows program, and
// winres reads them back.
func TestResources(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module example.com/hello\n\ngo 1.22\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "main.go"), []byte("package main\n\nfunc main() {}\n"), 0o644)
	exe := filepath.Join(dir, "hello.exe")
	cmd := exec.Command("go", "build", "-trimpath", "-o", exe, ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOOS=windows", "GOARCH=amd64", "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	icon, err := AppIcon("../../assets/app/Ghostwire.icns")
	if err != nil {
		t.Fatal(err)
	}
	v := release.Version{Major: 1, Minor: 4, Patch: 0, Tag: "v1.4.0", Commits: 0, Hash: "1a2b3c4d5e6f"}
	if err := addResources(exe, resourceInfo{File: "hello.exe", Description: "Ghostwire VPN test"}, icon, v, time.Unix(1_700_000_000, 0)); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(exe)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rs, err := winres.LoadFromEXE(f)
	if err != nil {
		t.Fatal(err)
	}
	raw := rs.Get(winres.RT_VERSION, winres.ID(1), version.LangDefault)
	if raw == nil {
		raw = rs.Get(winres.RT_VERSION, winres.ID(1), 0)
	}
	vi, err := version.FromBytes(raw)
	if err != nil {
		t.Fatalf("the version resource: %v", err)
	}
	js, _ := json.Marshal(vi)
	for _, want := range []string{`"FileDescription":"Ghostwire VPN test"`, `"ProductVersion":"1.4.0"`, `"CompanyName":"Ghostwire"`, `"OriginalFilename":"hello.exe"`} {
		if !strings.Contains(string(js), want) {
			t.Errorf("the version resource lacks %s: %s", want, js)
		}
	}
	if vi.FileVersion != [4]uint16{1, 4, 0, 0} {
		t.Errorf("file version %v", vi.FileVersion)
	}
	got, err := rs.GetIcon(winres.ID(1))
	if err != nil || got == nil {
		t.Fatalf("the icon: %v", err)
	}
	// The program still runs where it can: the PE is valid for Go's reader.
	if out, err := exec.Command("go", "version", exe).CombinedOutput(); err != nil || !strings.Contains(string(out), "go1.") {
		t.Errorf("go version on the patched program: %v %s", err, out)
	}
}

// The throwaway signer's signature verifies against its CA (and not
// against the system's), and a changed byte breaks it.
func TestThrowawaySignature(t *testing.T) {
	if _, err := exec.LookPath("osslsigncode"); err != nil {
		t.Fatalf("osslsigncode is missing: `make deps` installs it")
	}
	dir := t.TempDir()
	s, err := ThrowawaySigner(dir, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module example.com/hello\n\ngo 1.22\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "main.go"), []byte("package main\n\nfunc main() {}\n"), 0o644)
	exe := filepath.Join(dir, "hello.exe")
	cmd := exec.Command("go", "build", "-o", exe, ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOOS=windows", "GOARCH=amd64", "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	ctx := context.Background()
	if err := s.Sign(ctx, exe, "hello"); err != nil {
		t.Fatal(err)
	}
	ca := filepath.Join(dir, TestSigningCAFile)
	os.WriteFile(ca, s.ThrowawayCA, 0o644)
	if err := Verify(ctx, exe, ca); err != nil {
		t.Fatal(err)
	}
	if err := Verify(ctx, exe, ""); err == nil {
		t.Error("a throwaway signature must not verify against the system's CAs")
	}
	if r := s.TestBuildReasons(); len(r) != 1 || !strings.Contains(r[0], "throwaway") {
		t.Errorf("a throwaway signature is a test build: %v", r)
	}
}
