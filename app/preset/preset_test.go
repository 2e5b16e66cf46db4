package preset

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	p, err := Parse([]byte(`{"server": " https://VPN.corp.example/ ", "profile": "prod"}`), "test")
	if err != nil || p.Server != "https://vpn.corp.example" || p.Profile != "prod" || p.Source != "test" {
		t.Fatalf("%+v %v", p, err)
	}
	p, err = Parse([]byte(`{"server": "https://vpn.corp.example:8443"}`), "test")
	if err != nil || p.Profile != "vpn-corp-example" {
		t.Errorf("a missing profile name is made from the host: %+v %v", p, err)
	}
	for in, want := range map[string]string{
		`{"sever": "https://x.example"}`:                     "unknown field",
		`{"server": "http://x.example"}`:                     "https://",
		`{"server": "x.example"}`:                            "https://",
		`{"server": ""}`:                                     "names no server",
		`{"server": "https://x.example", "profile": "Prod"}`: "not valid",
		`{"server": "https://x.example", "ca_pem": "nope"}`:  "private CA",
		`{"server": "https://x.example"} {}`:                 "more than one",
		`[1]`:                                                "not a valid preset",
	} {
		if _, err := Parse([]byte(in), "test"); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Parse(%s) = %v, want an error with %q", in, err, want)
		}
	}
}

func TestFromValues(t *testing.T) {
	p, err := FromValues(map[string]string{"serverurl": "https://vpn.corp.example", "PROFILE": "prod"}, `HKLM\SOFTWARE\Policies\Ghostwire`)
	if err != nil || p == nil || p.Server != "https://vpn.corp.example" || p.Profile != "prod" {
		t.Fatalf("%+v %v", p, err)
	}
	if p, err := FromValues(map[string]string{}, "x"); p != nil || err != nil {
		t.Errorf("no values = no preset: %+v %v", p, err)
	}
	if _, err := FromValues(map[string]string{"Profile": "prod"}, "x"); err == nil {
		t.Error("a profile without a server must be reported")
	}
	if _, err := FromValues(map[string]string{"ServerURL": "https://x.example", "Sever": "y"}, "x"); err == nil {
		t.Error("an unknown setting must be reported")
	}
}

func TestMerge(t *testing.T) {
	p := Preset{Server: "https://vpn.corp.example", Profile: "prod", Source: "test"}
	for _, c := range []struct {
		have []Existing
		want Action
	}{
		{nil, Add},
		{[]Existing{{Name: "dev", Server: "https://dev.example"}}, Add},
		{[]Existing{{Name: "prod", Server: "https://vpn.corp.example"}}, Keep},
		{[]Existing{{Name: "prod", Server: "https://old.corp.example"}}, Update},
		{[]Existing{{Name: "mine", Server: "https://vpn.corp.example/"}}, Keep},
	} {
		if got, why := Merge(p, c.have); got != c.want || why == "" {
			t.Errorf("Merge with %+v = %v (%s), want %v", c.have, got, why, c.want)
		}
	}
	withCA := p
	withCA.CAPEM = "new"
	if got, _ := Merge(withCA, []Existing{{Name: "prod", Server: p.Server, CAPEM: "old"}}); got != Update {
		t.Errorf("a changed CA must update the profile: %v", got)
	}
}

type badSource struct{}

func (badSource) Name() string           { return "bad" }
func (badSource) Read() (*Preset, error) { return nil, errors.New("broken") }

func TestFileSourceAndLoad(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "preset.json")
	f := File{Path: path}
	if p, err := f.Read(); p != nil || err != nil {
		t.Fatalf("no file = no preset: %+v %v", p, err)
	}
	if err := os.WriteFile(path, []byte(`{"server": "https://vpn.corp.example", "profile": "prod"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	p, errs := Load([]Source{badSource{}, f})
	if os.Geteuid() == 0 {
		if p == nil || p.Profile != "prod" || len(errs) != 1 {
			t.Fatalf("Load: %+v %v", p, errs)
		}
	}
	// Anyone able to write the file could send people to another server.
	os.Chmod(path, 0o666)
	if _, err := f.Read(); err == nil || !strings.Contains(err.Error(), "others may write") {
		t.Errorf("a world-writable preset must be ignored: %v", err)
	}
	os.Chmod(path, 0o644)
	if os.Geteuid() != 0 {
		if _, err := f.Read(); err == nil || !strings.Contains(err.Error(), "not root") {
			t.Errorf("a preset not owned by root must be ignored: %v", err)
		}
	} else if err := os.Chown(path, 65534, 65534); err == nil {
		if _, err := f.Read(); err == nil || !strings.Contains(err.Error(), "not root") {
			t.Errorf("a preset not owned by root must be ignored: %v", err)
		}
	}
}
