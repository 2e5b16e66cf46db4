package addcluster

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"unicode"

	"github.com/ghostwire/ghostwire/app/serverclient"
)

// Scheme is the URL scheme of connect links.
const Scheme = "ghostwire"

// maxLink bounds a link: a server URL fits many times over.
const maxLink = 2048

// Link is a parsed ghostwire://connect link.
type Link struct {
	// Server is the server's canonical https URL.
	Server string
}

// ConnectLink is the link an admin sends for server (for docs and tests).
func ConnectLink(server string) string {
	return Scheme + "://connect?server=" + url.QueryEscape(server)
}

// ParseLink reads ghostwire://connect?server=https://vpn.example.com. It
// refuses anything else: another action, a user, port, path or fragment, a
// parameter other than server (once), a server that is not https, and any
// control character. Its errors name the problem without echoing more than
// a readable prefix of the link.
func ParseLink(raw string) (Link, error) {
	const fix = "ask your admin for a new link, or add the cluster with Add cluster… in the Ghostwire menu"
	if raw == "" {
		return Link{}, errors.New("the link is empty: " + fix)
	}
	if len(raw) > maxLink {
		return Link{}, fmt.Errorf("the link %s is too long to be a ghostwire link: %s", serverclient.Quote(raw), fix)
	}
	if strings.IndexFunc(raw, func(r rune) bool { return unicode.IsControl(r) || unicode.IsSpace(r) }) >= 0 {
		return Link{}, fmt.Errorf("the link %s holds spaces or control characters: %s", serverclient.Quote(raw), fix)
	}
	u, err := url.Parse(raw)
	if err != nil {
		return Link{}, fmt.Errorf("%s is not a link: %s", serverclient.Quote(raw), fix)
	}
	if !strings.EqualFold(u.Scheme, Scheme) {
		return Link{}, fmt.Errorf("%s is not a ghostwire:// link: %s", serverclient.Quote(raw), fix)
	}
	if u.Opaque != "" || u.User != nil || u.Port() != "" || !strings.EqualFold(u.Hostname(), "connect") ||
		(u.Path != "" && u.Path != "/") || u.Fragment != "" || u.RawFragment != "" {
		return Link{}, fmt.Errorf("%s is not a link ghostwire knows: the only one is ghostwire://connect?server=https://…; %s", serverclient.Quote(raw), fix)
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return Link{}, fmt.Errorf("the link %s has malformed parameters: %s", serverclient.Quote(raw), fix)
	}
	var extra []string
	for k := range q {
		if k != "server" {
			extra = append(extra, serverclient.Quote(k))
		}
	}
	if len(extra) > 0 {
		return Link{}, fmt.Errorf("the link has parameters ghostwire does not know (%s), so it is refused: a link holds only server=https://…; %s", strings.Join(extra, ", "), fix)
	}
	servers := q["server"]
	switch {
	case len(servers) == 0 || servers[0] == "":
		return Link{}, fmt.Errorf("the link names no server (server=https://…): %s", fix)
	case len(servers) > 1:
		return Link{}, fmt.Errorf("the link names more than one server: %s", fix)
	}
	s := servers[0]
	if !strings.HasPrefix(strings.ToLower(s), "https://") {
		if strings.HasPrefix(strings.ToLower(s), "http://") {
			return Link{}, fmt.Errorf("the link's server %s uses plain http, which would send your sign-in in clear text: it is refused; %s", serverclient.Quote(s), fix)
		}
		return Link{}, fmt.Errorf("the link's server %s must start with https://: %s", serverclient.Quote(s), fix)
	}
	su, err := serverclient.ParseServerURL(s)
	if err != nil {
		return Link{}, fmt.Errorf("the link's server is not usable: %v; %s", err, fix)
	}
	// su is https (the prefix above), with its host in lower case: one
	// spelling per server.
	return Link{Server: su.String()}, nil
}
