package daemon

import (
	"strings"
	"testing"
)

// The Windows caller table, on Linux: the SIDs are what Windows puts in the
// tokens (winpipe's identification test reads real ones under Wine).
func TestAllowWindowsCaller(t *testing.T) {
	const group = "S-1-5-21-1-2-3-1009" // the local ghostwire group on this machine
	user := func(groups ...string) Peer {
		return Peer{UID: -1, GID: -1, SID: "S-1-5-21-1-2-3-1001", User: `LAPTOP\ana`,
			Groups: append([]string{"S-1-1-0", "S-1-5-4", "S-1-5-11", "S-1-5-32-545"}, groups...)}
	}
	for _, tc := range []struct {
		name  string
		p     Peer
		group string
		ok    bool
		says  string
	}{
		{"SYSTEM", Peer{SID: sidLocalSystem}, group, true, ""},
		{"elevated administrator", user(sidAdministrators), group, true, ""},
		// Not elevated, Administrators is a deny-only group, which the
		// identification leaves out of Groups.
		{"administrator, not elevated", user(), group, false, "elevated"},
		{"Network Configuration Operators", user(sidNetworkConfigOperators), group, true, ""},
		{"member of the ghostwire group", user(group), group, true, ""},
		{"interactive user, not a member", user(), group, false, `net localgroup ghostwire "LAPTOP\ana" /add`},
		{"no ghostwire group yet", user(), "", false, "ghostwire daemon install"},
		{"a group SID of another machine", user("S-1-5-21-9-9-9-1009"), group, false, "ghostwire"},
		{"unidentified", Peer{UID: -1}, group, false, "identified"},
		{"unnamed SID", Peer{SID: "S-1-5-21-1-2-3-1002"}, group, false, "S-1-5-21-1-2-3-1002"},
	} {
		err := allowWindowsCaller(tc.p, tc.group)
		if (err == nil) != tc.ok || (err != nil && !strings.Contains(err.Error(), tc.says)) {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
}

func TestPeerLogAttrs(t *testing.T) {
	if a := (Peer{UID: 1000, PID: 7}).logAttrs(); len(a) != 4 || a[0] != "uid" {
		t.Fatalf("linux caller: %v", a)
	}
	if a := (Peer{UID: -1, SID: "S-1-5-18", User: `NT AUTHORITY\SYSTEM`, PID: 7}).logAttrs(); len(a) != 6 || a[1] != `NT AUTHORITY\SYSTEM` {
		t.Fatalf("windows caller: %v", a)
	}
}
