package tunnel

import (
	"fmt"
	"strings"

	"github.com/google/uuid"
)

// ghostwireNamespace roots the identifiers ghostwire gives Windows objects.
// It never changes: Windows keys a network profile (Private/Public, firewall
// rules) to the adapter's GUID, so a GUID that moved between sessions would
// greet the person with "new network" every time (yggdrasil-go#1250).
var ghostwireNamespace = uuid.MustParse("6b0e1f5c-3a8e-4c7e-9d2b-7f3f1a9c0e42")

// adapterGUID is the wintun adapter GUID for an interface name: the same
// for every session of a profile, never derived from keys (ours change every
// session) and different for each interface (gw0, gw1...).
func adapterGUID(iface string) uuid.UUID {
	return uuid.NewSHA1(ghostwireNamespace, []byte("wintun-adapter/"+strings.ToLower(iface)))
}

// nrptRuleKey is the registry key name of the i-th NRPT rule of an
// interface, "{8-4-4-4-12}" as Windows names its own rules. Fixed names let
// a later start find and remove the rules of a crashed session even
// without its journal.
func nrptRuleKey(iface string, i int) string {
	id := uuid.NewSHA1(ghostwireNamespace, fmt.Appendf(nil, "nrpt-rule/%s/%d", strings.ToLower(iface), i))
	return "{" + strings.ToUpper(id.String()) + "}"
}
