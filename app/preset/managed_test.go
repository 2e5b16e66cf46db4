package preset

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"howett.net/plist"
)

func TestParseManagedPreferences(t *testing.T) {
	settings := map[string]any{
		"ServerURL":          "https://VPN.corp.example/",
		"Profile":            "prod",
		"PayloadUUID":        "5E4B2C1A-0000-4000-8000-000000000001", // added by some MDMs: skipped
		"_ManagedBy":         "Jamf",
		"PayloadDisplayName": "Ghostwire",
	}
	for _, format := range []int{plist.XMLFormat, plist.BinaryFormat} {
		b, err := plist.Marshal(settings, format)
		if err != nil {
			t.Fatal(err)
		}
		p, err := ParseManagedPreferences(b, "test.plist")
		if err != nil || p == nil || p.Server != "https://vpn.corp.example" || p.Profile != "prod" || p.Source != "test.plist" {
			t.Fatalf("format %d: %+v %v", format, p, err)
		}
	}
	for name, c := range map[string]struct {
		in   any
		want string
	}{
		"a typo":          {map[string]any{"ServerURL": "https://x.example", "Profle": "prod"}, "does not know"},
		"not a string":    {map[string]any{"ServerURL": "https://x.example", "Profile": 3}, "must be a string"},
		"clear text":      {map[string]any{"ServerURL": "http://x.example"}, "https://"},
		"profile alone":   {map[string]any{"Profile": "prod"}, "no ServerURL"},
		"not a dict":      {[]string{"ServerURL"}, "not a property list of settings"},
		"bad name":        {map[string]any{"ServerURL": "https://x.example", "Profile": "Prod Cluster"}, "not valid"},
		"a CA that is no": {map[string]any{"ServerURL": "https://x.example", "CAPEM": "nope"}, "private CA"},
	} {
		b, err := plist.Marshal(c.in, plist.XMLFormat)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ParseManagedPreferences(b, "test.plist"); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error with %q", name, err, c.want)
		}
	}
	if _, err := ParseManagedPreferences([]byte("not a plist"), "test.plist"); err == nil {
		t.Error("garbage must be refused")
	}
	// Only other settings of the domain (none of ours): no preset, no error.
	b, _ := plist.Marshal(map[string]any{"PayloadUUID": "x"}, plist.XMLFormat)
	if p, err := ParseManagedPreferences(b, "test.plist"); p != nil || err != nil {
		t.Errorf("no ServerURL = no preset: %+v %v", p, err)
	}
}

func TestManagedPreferencesFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), PreferenceDomain+".plist")
	m := ManagedPreferences{Path: path}
	if p, err := m.Read(); p != nil || err != nil {
		t.Fatalf("no file = no preset: %+v %v", p, err)
	}
	b, _ := plist.Marshal(map[string]string{"ServerURL": "https://vpn.corp.example", "Profile": "prod"}, plist.XMLFormat)
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if os.Geteuid() == 0 {
		p, err := m.Read()
		if err != nil || p == nil || p.Profile != "prod" {
			t.Fatalf("a root-owned preference file: %+v %v", p, err)
		}
	}
	os.Chmod(path, 0o666)
	if _, err := m.Read(); err == nil || !strings.Contains(err.Error(), "others may write") {
		t.Errorf("a world-writable preference file must be ignored: %v", err)
	}
}
