package serverclient

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestServerURLCanonicalForms(t *testing.T) {
	for in, want := range map[string]string{
		"vpn.example.com":                                 "https://vpn.example.com",
		"  https://VPN.Example.com/  ":                    "https://vpn.example.com",
		"https://vpn.example.com.":                        "https://vpn.example.com",
		"https://vpn.example.com:8443":                    "https://vpn.example.com:8443",
		"https://vpn.example.com:08443/":                  "https://vpn.example.com:8443",
		"https://10.0.0.1":                                "https://10.0.0.1",
		"https://[2001:db8::1]:8443":                      "https://[2001:db8::1]:8443",
		"https://[2001:db8::1]":                           "https://[2001:db8::1]",
		"https://bücher.example":                          "https://xn--bcher-kva.example",
		"http://[::1]:8080":                               "http://[::1]:8080",
		"https://" + strings.Repeat("a", 63) + ".example": "https://" + strings.Repeat("a", 63) + ".example",
	} {
		u, err := ParseServerURL(in)
		if err != nil || u.String() != want {
			t.Errorf("%q: got %v, %v; want %s", in, u, err, want)
		}
	}
}

// Malformed URLs are refused with a message that says why, quotes at most
// a readable prefix of what was given, and never a control character.
func TestServerURLRefusals(t *testing.T) {
	long := "https://" + strings.Repeat("x", 10<<10) + ".example.com"
	for _, c := range []struct{ in, want string }{
		{"https://vpn.example.com:99999", "port"},
		{"https://vpn.example.com:0", "port"},
		{"https://vpn.example.com:", "port"},
		{"https://vpn.example.com:https", "not a server URL"},
		{long, "too long"},
		{"https://" + strings.Repeat("a", 64) + ".example", "63 characters"},
		{"https://" + strings.Repeat("abcdefghi.", 26) + "com", "253"},
		{"https://vpn.example.com/vpn/path", "has a path"},
		{"https://vpn.example.com/v1/config", "has a path"},
		{"https://bad_host!.example", "cannot exist"},
		{"https://vpn.exa mple.com", "space"},
		{"https://vpn.example.com\x1b[31m", "control character"},
		{"https://user:pw@vpn.example.com", "user"},
		{"https://vpn.example.com/?a=b", "query"},
		{"https://vpn.example.com#x", "fragment"},
		{"http://vpn.example.com", "plain http"},
		{"ftp://vpn.example.com", "https://"},
		{"https://", "not a server URL"},
		{"https://[fe80::1%25eth0]", "zone"},
		{"", "empty"},
	} {
		_, err := ParseServerURL(c.in)
		if err == nil {
			t.Errorf("%.40q accepted", c.in)
			continue
		}
		msg := err.Error()
		if !strings.Contains(msg, c.want) {
			t.Errorf("%.40q: %q lacks %q", c.in, msg, c.want)
		}
		if n := utf8.RuneCountInString(msg); n > 400 {
			t.Errorf("%.40q: the message is %d characters long", c.in, n)
		}
		if strings.ContainsRune(msg, 0x1b) {
			t.Errorf("%.40q: the message holds a control character: %q", c.in, msg)
		}
	}
}

func TestQuote(t *testing.T) {
	if got := Quote("short"); got != `"short"` {
		t.Errorf("Quote(short) = %s", got)
	}
	if got := Quote("a\x1b[2Jb"); strings.ContainsRune(got, 0x1b) {
		t.Errorf("Quote kept a control character: %s", got)
	}
	long := strings.Repeat("é", 1000)
	if got := Quote(long); utf8.RuneCountInString(got) > 100 || !strings.Contains(got, "(1000 characters)") {
		t.Errorf("Quote(long) = %s", got)
	}
}
