package daemon

import (
	"strings"
	"testing"
)

// Who may use the daemon on macOS, from the facts the OS gives: a Mac where
// uid 501 is at the screen, 502 is an administrator (admin = 80), 503 is in
// the ghostwire group (gid 700) through directory services only, 504 has
// ghostwire as its primary group, and 505 is nobody in particular.
func TestCallerPolicy(t *testing.T) {
	groupsOf := map[int][]int{501: {20}, 502: {20, 80}, 503: {20, 12, 700}, 504: {700}, 505: {20}}
	policy := func(console int, consoleOK bool, ghostwireExists bool) callerPolicy {
		return callerPolicy{
			daemonUID:  0,
			consoleUID: func() (int, bool) { return console, consoleOK },
			groups:     []string{"admin", "ghostwire"},
			gidOf: func(name string) (int, bool) {
				switch {
				case name == "admin":
					return 80, true
				case name == "ghostwire" && ghostwireExists:
					return 700, true
				}
				return 0, false
			},
			groupsOf:  func(uid int) []int { return groupsOf[uid] },
			howToJoin: "sudo dseditgroup -o edit -a <user> -t user ghostwire",
		}
	}
	for _, tc := range []struct {
		name      string
		p         Peer
		console   int
		consoleOK bool
		group     bool
		allowed   bool
	}{
		{"root", Peer{UID: 0, GID: 0}, 501, true, true, true},
		{"the person at the screen", Peer{UID: 501, GID: 20}, 501, true, true, true},
		{"the same user when someone else is at the screen", Peer{UID: 501, GID: 20}, 505, true, true, false},
		{"an administrator over ssh", Peer{UID: 502, GID: 20}, 501, true, true, true},
		{"a ghostwire member (directory group)", Peer{UID: 503, GID: 20}, 501, true, true, true},
		{"a ghostwire member (primary group)", Peer{UID: 504, GID: 700}, 501, true, true, true},
		{"a ghostwire member where the group was deleted", Peer{UID: 503, GID: 20}, 501, true, false, false},
		{"anyone else", Peer{UID: 505, GID: 20}, 501, true, true, false},
		{"anyone, at the login window (console is root)", Peer{UID: 505, GID: 20}, 0, true, true, false},
		{"console unknown", Peer{UID: 501, GID: 20}, 0, false, true, false},
		{"an unidentified caller", Peer{UID: -1, GID: -1}, 501, true, true, false},
	} {
		err := policy(tc.console, tc.consoleOK, tc.group).allow(tc.p)
		if (err == nil) != tc.allowed {
			t.Errorf("%s: allowed %v (%v), want %v", tc.name, err == nil, err, tc.allowed)
		}
		if err != nil && tc.p.UID >= 0 && !strings.Contains(err.Error(), "dseditgroup") {
			t.Errorf("%s: the refusal does not say how to get in: %v", tc.name, err)
		}
	}
}
