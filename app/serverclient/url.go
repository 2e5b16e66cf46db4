package serverclient

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"strings"

	"golang.org/x/net/idna"
)

// maxURLBytes bounds a server URL: the longest DNS name (253) with a
// scheme and a port fits many times over.
const maxURLBytes = 512

// ParseServerURL checks a server URL and returns it in its canonical form:
// https (or http to a loopback address only: local development, a token
// must never cross a network in clear), a host that can exist (a DNS name
// of at most 253 characters and 63 per label, or an IP address), a port in
// 1-65535, and no path: ghostwire's API lives at the root of the server's
// address. A bare host name gets https:// in front. Its errors quote at most
// a readable prefix of what was given.
func ParseServerURL(raw string) (*url.URL, error) {
	raw = strings.TrimSpace(raw)
	const example = "give it as https://vpn.example.com"
	if raw == "" {
		return nil, errors.New("the server URL is empty: " + example)
	}
	if len(raw) > maxURLBytes {
		return nil, fmt.Errorf("the server URL %s is too long to be one: %s", Quote(raw), example)
	}
	if i := strings.IndexFunc(raw, func(r rune) bool { return r <= ' ' || r == 0x7f }); i >= 0 {
		return nil, fmt.Errorf("the server URL %s holds a space or a control character: %s", Quote(raw), example)
	}
	if !strings.Contains(raw, "://") {
		raw = "https://" + raw
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.Opaque != "" {
		return nil, fmt.Errorf("%s is not a server URL: %s", Quote(raw), example)
	}
	if u.User != nil || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" {
		return nil, fmt.Errorf("the server URL %s must not hold a user, a query or a fragment: %s", Quote(raw), example)
	}
	if p := strings.TrimSuffix(u.EscapedPath(), "/"); p != "" {
		return nil, fmt.Errorf("the server URL %s has a path (%s), but ghostwire's API is at the root of the server's address: give only https://%s",
			Quote(raw), Quote(p), u.Host)
	}
	host, err := checkHost(u.Hostname())
	if err != nil {
		return nil, fmt.Errorf("the server URL %s: %v", Quote(raw), err)
	}
	if port := u.Port(); port != "" || strings.HasSuffix(u.Host, ":") {
		n, err := strconv.Atoi(port)
		if err != nil || n < 1 || n > 65535 {
			return nil, fmt.Errorf("the server URL %s has the port %s, but a port is a number from 1 to 65535", Quote(raw), Quote(port))
		}
		host = net.JoinHostPort(host, strconv.Itoa(n))
	} else if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	switch u.Scheme {
	case "https":
	case "http":
		ip, err := netip.ParseAddr(u.Hostname())
		if u.Hostname() != "localhost" && (err != nil || !ip.IsLoopback()) {
			return nil, fmt.Errorf("the server URL %s uses plain http, which would send your token in clear text: use https", Quote(raw))
		}
	default:
		return nil, fmt.Errorf("the server URL %s must start with https://", Quote(raw))
	}
	return &url.URL{Scheme: u.Scheme, Host: host}, nil
}

// hostNames is IDNA's lookup profile with the DNS lengths checked too.
var hostNames = idna.New(idna.MapForLookup(), idna.BidiRule(), idna.VerifyDNSLength(true), idna.StrictDomainName(true))

// checkHost returns the host in its ASCII form, or why it cannot exist.
func checkHost(h string) (string, error) {
	if h == "" {
		return "", errors.New("it names no host")
	}
	if ip, err := netip.ParseAddr(h); err == nil {
		if ip.Zone() != "" {
			return "", errors.New("a link-local address with a zone cannot be reached by its name: give the server's name or another address")
		}
		return ip.String(), nil
	}
	// The rules of DNS names (lengths included), as the resolver applies
	// them; an internationalized name becomes its xn-- form.
	a, err := hostNames.ToASCII(strings.TrimSuffix(h, "."))
	if err != nil || len(a) > 253 {
		return "", fmt.Errorf("the host %s cannot exist: a host name has letters, digits and '-', at most 63 characters between dots and 253 in all", Quote(h))
	}
	return a, nil
}

// Quote returns s quoted for a message, shortened to a readable prefix
// when long: a URL or an answer typed or sent by someone else is never
// echoed whole (one once was 30,901 characters), and control characters
// are escaped, never printed.
func Quote(s string) string {
	const keep = 64
	r := []rune(s)
	if len(r) <= keep {
		return strconv.Quote(s)
	}
	return fmt.Sprintf("%s (%d characters)", strconv.Quote(string(r[:keep])+"…"), len(r))
}
