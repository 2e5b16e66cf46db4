package menu

import (
	"fmt"
	"math"
	"net/netip"
	"net/url"
	"time"

	"github.com/ghostwire/ghostwire/app/localapi"
)

// StateWord is a profile's state in a word or two, for its menu entry.
func StateWord(s localapi.State) string {
	switch s {
	case localapi.StateDisconnected:
		return "off"
	case localapi.StateSigningIn:
		return "signing in"
	case localapi.StateRegistering:
		return "connecting"
	case localapi.StateConnected:
		return "connected"
	case localapi.StateReconnecting:
		return "reconnecting"
	case localapi.StateNeedsSignIn:
		return "sign-in needed"
	case localapi.StateError:
		return "error"
	default:
		return string(s)
	}
}

// SessionEnd is when the connection will end unless the person acts: the end of
// the sign-in session when the daemon knows it (peer renewals before it are
// silent), else the peer's own expiry.
func SessionEnd(p localapi.Profile) (time.Time, bool) {
	if p.SessionExpiresAt != nil && !p.SessionExpiresAt.IsZero() {
		return *p.SessionExpiresAt, true
	}
	if p.ExpiresAt != nil && !p.ExpiresAt.IsZero() {
		return *p.ExpiresAt, true
	}
	return time.Time{}, false
}

// Minutes renders d as "42 min" (rounded up), "1 h 5 min" or "less than a minute".
func Minutes(d time.Duration) string {
	if d < time.Minute {
		return "less than a minute"
	}
	m := int(math.Ceil(d.Minutes()))
	if m < 60 {
		return fmt.Sprintf("%d min", m)
	}
	if m%60 == 0 {
		return fmt.Sprintf("%d h", m/60)
	}
	return fmt.Sprintf("%d h %d min", m/60, m%60)
}

// PromptURL is the page to open for a sign-in prompt: the complete verification
// URL (code pre-filled) when there is one.
func PromptURL(s *localapi.SignInPrompt) string {
	switch {
	case s == nil:
		return ""
	case s.BrowserURL != "":
		return s.BrowserURL
	case s.VerificationURIComplete != "":
		return s.VerificationURIComplete
	default:
		return s.VerificationURI
	}
}

// HostAddress strips a prefix length: "100.64.0.7/32" → "100.64.0.7".
func HostAddress(a string) string {
	if pfx, err := netip.ParsePrefix(a); err == nil {
		return pfx.Addr().String()
	}
	return a
}

// HowToStart tells a person how to start the daemon on goos.
func HowToStart(goos string) string {
	switch goos {
	case "windows":
		return "Start the \"ghostwire\" service (services.msc); retrying by itself"
	case "darwin":
		return "Start it: sudo ghostwire daemon; retrying by itself"
	default:
		return "Start it: sudo systemctl start ghostwire; retrying by itself"
	}
}

// AboutText is what About shows.
func AboutText(in Input) string {
	daemon := "not running"
	if in.DaemonReachable {
		daemon = orUnknown(in.Status.DaemonVersion)
	}
	return "Ghostwire " + orUnknown(in.Version) + "\nService (daemon): " + daemon +
		"\nPasswordless WireGuard into your Kubernetes cluster."
}

// Shorten cuts s to at most n runes, ending with "…" when cut.
func Shorten(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

func hostOf(server string) string {
	if u, err := url.Parse(server); err == nil && u.Host != "" {
		return u.Host
	}
	return server
}

func orUnknown(s string) string {
	if s == "" {
		return "(unknown version)"
	}
	return s
}

func joinNonEmpty(sep string, parts ...string) string {
	out := ""
	for _, p := range parts {
		if p == "" {
			continue
		}
		if out != "" {
			out += sep
		}
		out += p
	}
	return out
}
