package addcluster

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/ghostwire/ghostwire/app/localapi"
	"github.com/ghostwire/ghostwire/server/api"
)

func TestParseLink(t *testing.T) {
	good := map[string]string{
		"ghostwire://connect?server=https://vpn.example.com":           "https://vpn.example.com",
		"ghostwire://connect/?server=https%3A%2F%2Fvpn.example.com%2F": "https://vpn.example.com",
		"GHOSTWIRE://Connect?server=https://VPN.example.com:8443":      "https://vpn.example.com:8443",
		ConnectLink("https://vpn.corp.example"):                        "https://vpn.corp.example",
	}
	for in, want := range good {
		l, err := ParseLink(in)
		if err != nil || l.Server != want {
			t.Errorf("ParseLink(%q) = %q, %v; want %q", in, l.Server, err, want)
		}
	}
	bad := map[string]string{
		"":                            "empty",
		"https://vpn.example.com":     "not a ghostwire:// link",
		"ghostwire://connect":         "names no server",
		"ghostwire://connect?server=": "names no server",
		"ghostwire://disconnect?server=https://vpn.example.com":                 "only one is ghostwire://connect",
		"ghostwire://connect/extra?server=https://vpn.example.com":              "only one is ghostwire://connect",
		"ghostwire://user@connect?server=https://vpn.example.com":               "only one is ghostwire://connect",
		"ghostwire://connect:99?server=https://vpn.example.com":                 "only one is ghostwire://connect",
		"ghostwire:connect?server=https://vpn.example.com":                      "only one is ghostwire://connect",
		"ghostwire://connect?server=https://vpn.example.com#x":                  "only one is ghostwire://connect",
		"ghostwire://connect?server=http://vpn.example.com":                     "plain http",
		"ghostwire://connect?server=http://127.0.0.1:8443":                      "plain http",
		"ghostwire://connect?server=vpn.example.com":                            "must start with https://",
		"ghostwire://connect?server=ftp://vpn.example.com":                      "must start with https://",
		"ghostwire://connect?server=https://vpn.example.com&profile=prod":       "parameters ghostwire does not know",
		"ghostwire://connect?server=https://a.example&server=https://b.example": "more than one server",
		"ghostwire://connect?server=https://vpn.example.com&ca=x":               "parameters ghostwire does not know",
		"ghostwire://connect?server=https://user:pw@vpn.example.com":            "not usable",
		"ghostwire://connect?server=https://vpn.example.com?x=1":                "not usable",
		"ghostwire://connect?server=https://vpn.example.com\n":                  "control characters",
		"ghostwire://connect?server=https://vpn.example.com%ZZ":                 "malformed",
		"ghostwire://connect?server=https://" + strings.Repeat("a", 3000):       "too long",
	}
	for in, want := range bad {
		_, err := ParseLink(in)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseLink(%q) = %v; want an error saying %q", in, err, want)
			continue
		}
		if len(err.Error()) > 400 {
			t.Errorf("ParseLink(%.40q…): message of %d characters", in, len(err.Error()))
		}
	}
}

func TestProfileName(t *testing.T) {
	profiles := []localapi.Profile{
		{Name: "prod", Server: "https://vpn.corp.example"},
		{Name: "vpn-example-com", Server: "https://other.example"},
	}
	for server, want := range map[string]struct {
		name     string
		existing bool
	}{
		"https://vpn.corp.example":                        {"prod", true},
		"https://VPN.corp.example/":                       {"prod", true},
		"https://vpn.example.com":                         {"vpn-example-com-2", false},
		"https://k8s.staging.example:8443":                {"k8s-staging-example", false},
		"https://[2001:db8::1]":                           {"2001-db8-1", false},
		"https://" + strings.Repeat("x", 40) + ".example": {strings.Repeat("x", 32), false},
	} {
		name, existing := ProfileName(server, profiles)
		if name != want.name || existing != want.existing || !ValidName.MatchString(name) {
			t.Errorf("ProfileName(%s) = %q %v; want %q %v (valid: %v)", server, name, existing, want.name, want.existing, ValidName.MatchString(name))
		}
	}
	long := []localapi.Profile{{Name: strings.Repeat("x", 32), Server: "https://a"}}
	if name, _ := ProfileName("https://"+strings.Repeat("x", 40), long); !ValidName.MatchString(name) || name == long[0].Name {
		t.Errorf("a taken long name must get a valid suffix: %q", name)
	}
}

type askRecorder struct {
	answer      bool
	err         error
	title, text string
	calls       int
}

func (a *askRecorder) Confirm(_ context.Context, title, text, yes string) (bool, error) {
	a.calls++
	a.title, a.text = title, text
	return a.answer, a.err
}

func config(name string, err error) ConfigFunc {
	return func(context.Context, string) (api.Config, error) { return api.Config{ServerName: name}, err }
}

// A link never yields a connection without a yes, and never touches an
// existing profile's server.
func TestPrepareLinkNeedsConfirmation(t *testing.T) {
	ctx := context.Background()
	st := localapi.Status{Profiles: []localapi.Profile{{Name: "prod", Server: "https://vpn.corp.example"}}}

	no := &askRecorder{answer: false}
	if _, err := Prepare(ctx, st, "https://evil.example", FromLink, config("Contoso <b>VPN</b>\x1b[31m", nil), no); !errors.Is(err, ErrDeclined) {
		t.Fatalf("declined link: %v", err)
	}
	if no.calls != 1 || !strings.Contains(no.text, "evil.example") || !strings.Contains(no.text, "Contoso ‹b›VPN‹/b› [31m") || strings.ContainsAny(no.text, "<>\x1b") {
		t.Errorf("the question must show the host and the cleaned name: %q", no.text)
	}

	if _, err := Prepare(ctx, st, "https://evil.example", FromLink, config("", nil), nil); err == nil {
		t.Error("without a way to ask, a link must add nothing")
	}
	broken := &askRecorder{err: errors.New("no display")}
	if _, err := Prepare(ctx, st, "https://evil.example", FromLink, config("", nil), broken); err == nil || errors.Is(err, ErrDeclined) {
		t.Errorf("a dialog that fails must add nothing: %v", err)
	}

	unreachable := &askRecorder{answer: true}
	if _, err := Prepare(ctx, st, "https://typo.example", FromLink, config("", errors.New("no such host")), unreachable); err == nil || unreachable.calls != 0 {
		t.Errorf("an unreachable server is refused before asking: %v (asked %d)", err, unreachable.calls)
	}

	yes := &askRecorder{answer: true}
	p, err := Prepare(ctx, st, "https://new.example", FromLink, config("Staging", nil), yes)
	if err != nil || p.Up.Profile != "new-example" || p.Up.Server != "https://new.example" || p.Existing || p.ServerName != "Staging" {
		t.Errorf("confirmed new link: %+v %v", p, err)
	}

	// A link to a server the person already has: by name only, so the stored
	// server can never be swapped by a link.
	yes = &askRecorder{answer: true}
	p, err = Prepare(ctx, st, "https://vpn.corp.example", FromLink, config("", errors.New("private CA")), yes)
	if err != nil || p.Up.Profile != "prod" || p.Up.Server != "" || !p.Existing || !strings.Contains(yes.title, "prod") {
		t.Errorf("link to a known server: %+v %v %q", p, err, yes.title)
	}
}

func TestPrepareTyped(t *testing.T) {
	ctx := context.Background()
	p, err := Prepare(ctx, localapi.Status{}, "https://vpn.example.com", Typed, config("Prod", nil), nil)
	if err != nil || p.Up.Profile != "vpn-example-com" || p.Up.Server != "https://vpn.example.com" {
		t.Errorf("typed: %+v %v", p, err)
	}
	if _, err := Prepare(ctx, localapi.Status{}, "https://vpn.exmaple.com", Typed, config("", errors.New("no such host")), nil); err == nil || !strings.Contains(err.Error(), "nothing was added") {
		t.Errorf("a typo adds nothing: %v", err)
	}
}

func TestCleanName(t *testing.T) {
	if got := CleanName(strings.Repeat("é", 100)); len([]rune(got)) != 65 {
		t.Errorf("long name: %d runes", len([]rune(got)))
	}
	if got := CleanName("A & B \"x\"\u2028y"); got != "A + B 'x' y" {
		t.Errorf("CleanName = %q", got)
	}
}
