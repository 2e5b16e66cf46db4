package httpapi

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/ghostwire/ghostwire/server/api"
)

// A client killed with -9 keeps only its last public key. After the next
// sign-in it registers a fresh key naming that one in `replaces`: the
// server hands over the address, charges no device (a user at the cap is
// not locked out) and says in the audit log that the owner took it over.
// Naming another user's key takes nothing from them.
func TestReplacesTakesOverTheOwnersPeerOnly(t *testing.T) {
	e := newEnv(t, "100.81.0.0/24", 2, StaticEndpoint("vpn.example.com:51820"))
	register := func(token string, req api.RegisterRequest) api.Peer {
		t.Helper()
		code, b := e.register(t, token, req)
		var p api.Peer
		if code != 201 || json.Unmarshal(b, &p) != nil {
			t.Fatalf("%s: %d %s", token, code, b)
		}
		return p
	}
	// Two crashes in a row fill alice's cap of two devices.
	crashed := register("alice", api.RegisterRequest{PublicKey: newKey(t)})
	other := register("alice", api.RegisterRequest{PublicKey: newKey(t)})
	code, b := e.register(t, "alice", api.RegisterRequest{PublicKey: newKey(t)})
	wantError(t, code, b, 429, api.CodeTooManyPeers, "")

	// At the cap, the restarted client takes its old peer over.
	next := register("alice", api.RegisterRequest{PublicKey: newKey(t), Replaces: crashed.PublicKey})
	if next.Address != crashed.Address {
		t.Fatalf("address %s, want the crashed peer's %s", next.Address, crashed.Address)
	}
	if _, ok := e.dev.peers[mustKey(t, crashed.PublicKey)]; ok || len(e.dev.peers) != 2 {
		t.Fatalf("device after the takeover: %v", e.dev.peers)
	}

	// Bob names alice's key: ignored (a plain registration), alice keeps it.
	bobs := register("bob", api.RegisterRequest{PublicKey: newKey(t), Replaces: other.PublicKey})
	if bobs.Address == other.Address {
		t.Fatal("bob took alice's address")
	}
	if code, _, _ := e.do(t, "GET", peerPath(other.PublicKey), "alice", "", nil); code != 200 {
		t.Fatalf("alice's peer after bob named it: %d", code)
	}

	e.logsMu.Lock()
	logs := e.logs.String()
	e.logsMu.Unlock()
	for _, want := range []string{
		"takes over " + crashed.PublicKey + ", a peer of the same user",
		"taken over by its owner's new key " + next.PublicKey,
		"replaces " + other.PublicKey + " ignored",
	} {
		if !strings.Contains(logs, want) {
			t.Errorf("audit log lacks %q", want)
		}
	}
}
