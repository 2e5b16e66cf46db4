package addcluster

import (
	"fmt"
	"net/url"
	"regexp"
	"strings"

	"github.com/ghostwire/ghostwire/app/localapi"
)

// ValidName is the daemon's rule for profile names.
var ValidName = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,31}$`)

// ProfileName picks the profile for server given the daemon's profiles: the
// profile that already has this server (existing true), else a new name made
// from the host (vpn.example.com → vpn-example-com) that no profile has yet.
func ProfileName(server string, profiles []localapi.Profile) (name string, existing bool) {
	taken := map[string]bool{}
	for _, p := range profiles {
		if sameServer(p.Server, server) {
			return p.Name, true
		}
		taken[p.Name] = true
	}
	base := slug(server)
	name = base
	for i := 2; taken[name]; i++ {
		suffix := fmt.Sprintf("-%d", i)
		name = strings.TrimRight(base[:min(len(base), 32-len(suffix))], "-_") + suffix
	}
	return name, false
}

func sameServer(a, b string) bool {
	return strings.TrimSuffix(strings.ToLower(a), "/") == strings.TrimSuffix(strings.ToLower(b), "/")
}

// slug turns a server URL's host into a profile name: lower case, every run
// of other characters a single '-', at most 32 characters.
func slug(server string) string {
	host := server
	if u, err := url.Parse(server); err == nil && u.Hostname() != "" {
		host = u.Hostname()
	}
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(host) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
			dash = false
		} else if !dash && b.Len() > 0 {
			b.WriteByte('-')
			dash = true
		}
	}
	s := strings.TrimRight(b.String(), "-")
	if len(s) > 32 {
		s = strings.TrimRight(s[:32], "-")
	}
	if s == "" {
		s = "cluster"
	}
	return s
}
