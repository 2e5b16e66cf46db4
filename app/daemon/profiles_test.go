//go:build linux

package daemon

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ghostwire/ghostwire/app/engine"
	"github.com/ghostwire/ghostwire/app/localapi"
	"github.com/ghostwire/ghostwire/server/api"
)

func readProfiles(t *testing.T, dir string) settingsFile {
	t.Helper()
	var f settingsFile
	b, err := os.ReadFile(filepath.Join(dir, "profiles.json"))
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	if len(b) > 0 {
		if err := json.Unmarshal(b, &f); err != nil {
			t.Fatal(err)
		}
	}
	return f
}

// A typo on a connected profile: the new server is asked for its config
// first, and since it does not answer, nothing changes: the tunnel stays
// up, the profile keeps its server, profiles.json is untouched.
func TestTypoOnConnectedProfileChangesNothing(t *testing.T) {
	dir := t.TempDir()
	good := &memAPI{routes: []string{"10.203.96.0/20"}, peers: map[string]bool{}}
	typo := &memAPI{peers: map[string]bool{}, configErr: &engine.ServerError{Kind: engine.ErrUnreachable,
		Message: "cannot reach the ghostwire server vpn.exmaple.test (no such host): check your network and the server URL"}}
	r := newDaemonRig(t, dir, map[string]*memAPI{"https://vpn.test": good, "https://vpn.exmaple.test": typo}, 0)
	ctx := context.Background()
	if _, err := r.c.Up(ctx, localapi.UpRequest{Server: "https://vpn.test"}); err != nil {
		t.Fatal(err)
	}
	before := waitProfile(t, r.c, DefaultProfile, localapi.StateConnected)
	saved, _ := os.ReadFile(filepath.Join(dir, "profiles.json"))

	_, err := r.c.Up(ctx, localapi.UpRequest{Server: "https://vpn.exmaple.test"})
	if localapi.CodeOf(err) != localapi.CodeUnavailable || !strings.Contains(err.Error(), "nothing was changed") {
		t.Fatalf("a server that does not answer: %v (%s)", err, localapi.CodeOf(err))
	}
	st, _ := r.c.Status(ctx)
	p := st.Profiles[0]
	if len(st.Profiles) != 1 || p.State != localapi.StateConnected || p.Server != "https://vpn.test" || p.Address != before.Address || good.count() != 1 {
		t.Fatalf("the typo changed the profile: %+v, peers on the server %d", st.Profiles, good.count())
	}
	if now, _ := os.ReadFile(filepath.Join(dir, "profiles.json")); !bytes.Equal(now, saved) {
		t.Fatalf("profiles.json changed:\n%s\nnow\n%s", saved, now)
	}
	// A malformed URL is refused before anything is asked.
	for _, bad := range []string{"https://vpn.test:99999", "https://vpn.test/vpn/path", "https://" + strings.Repeat("x", 10000)} {
		_, err := r.c.Up(ctx, localapi.UpRequest{Server: bad})
		if localapi.CodeOf(err) != localapi.CodeBadRequest || len(err.Error()) > 400 {
			t.Errorf("%.40s: %v", bad, err)
		}
	}
}

// A new profile is written down only once it has connected; one whose
// first up failed is shown with its error, then forgotten at `down`.
func TestFailedFirstUpIsNotKept(t *testing.T) {
	dir := t.TempDir()
	refused := &memAPI{peers: map[string]bool{}, registerErr: &engine.ServerError{Kind: engine.ErrForbidden, Message: "your account is not in the group allowed to use this VPN"}}
	good := &memAPI{routes: []string{"10.203.96.0/20"}, peers: map[string]bool{}}
	r := newDaemonRig(t, dir, map[string]*memAPI{"https://refused.test": refused, "https://vpn.test": good}, 0)
	ctx := context.Background()
	if _, err := r.c.Up(ctx, localapi.UpRequest{Profile: "work", Server: "https://refused.test"}); err != nil {
		t.Fatal(err)
	}
	p := waitProfile(t, r.c, "work", localapi.StateError)
	if p.ErrorCode != localapi.CodeForbidden {
		t.Fatalf("%+v", p)
	}
	if f := readProfiles(t, dir); len(f.Profiles) != 0 {
		t.Fatalf("a profile whose first up failed was saved: %+v", f.Profiles)
	}
	if _, err := r.c.Down(ctx, localapi.ProfileRequest{Profile: "work"}); err != nil {
		t.Fatal(err)
	}
	if st, _ := r.c.Status(ctx); len(st.Profiles) != 0 {
		t.Fatalf("the failed profile is still there after down: %+v", st.Profiles)
	}
	// One that connects is kept.
	if _, err := r.c.Up(ctx, localapi.UpRequest{Profile: "work", Server: "https://vpn.test"}); err != nil {
		t.Fatal(err)
	}
	waitProfile(t, r.c, "work", localapi.StateConnected)
	if f := readProfiles(t, dir); len(f.Profiles) != 1 || f.Profiles[0].Server != "https://vpn.test" {
		t.Fatalf("a connected profile must be saved: %+v", f.Profiles)
	}
}

func TestProfileRemove(t *testing.T) {
	dir := t.TempDir()
	apis := map[string]*memAPI{
		"https://a.test": {routes: []string{"10.203.16.0/20"}, peers: map[string]bool{}},
		"https://b.test": {routes: []string{"10.203.32.0/20"}, peers: map[string]bool{}},
	}
	r := newDaemonRig(t, dir, apis, 0)
	ctx := context.Background()
	for _, n := range []string{"a", "b"} {
		if _, err := r.c.Up(ctx, localapi.UpRequest{Profile: n, Server: "https://" + n + ".test"}); err != nil {
			t.Fatal(err)
		}
		waitProfile(t, r.c, n, localapi.StateConnected)
	}
	st, err := r.c.Remove(ctx, localapi.ProfileRequest{Profile: "a"})
	if err != nil || len(st.Profiles) != 1 || st.Profiles[0].Name != "b" {
		t.Fatalf("remove: %+v %v", st.Profiles, err)
	}
	if apis["https://a.test"].count() != 0 {
		t.Fatal("the removed profile's peer is still on its server")
	}
	if f := readProfiles(t, dir); len(f.Profiles) != 1 || f.Profiles[0].Name != "b" {
		t.Fatalf("profiles.json after remove: %+v", f.Profiles)
	}
	if _, err := r.c.Remove(ctx, localapi.ProfileRequest{Profile: "a"}); localapi.CodeOf(err) != localapi.CodeNotFound {
		t.Fatalf("removing an unknown profile: %v", err)
	}
	if _, err := r.c.Remove(ctx, localapi.ProfileRequest{}); localapi.CodeOf(err) != localapi.CodeBadRequest {
		t.Fatalf("remove without a name: %v", err)
	}
}

// The last registration's public key is kept in profiles.json; a daemon
// started after a crash registers with it in `replaces`.
func TestLastPeerSurvivesACrash(t *testing.T) {
	dir := t.TempDir()
	a := &memAPI{routes: []string{"10.203.96.0/20"}, peers: map[string]bool{}}
	r := newDaemonRig(t, dir, map[string]*memAPI{"https://vpn.test": a}, 0)
	ctx := context.Background()
	if _, err := r.c.Up(ctx, localapi.UpRequest{Server: "https://vpn.test"}); err != nil {
		t.Fatal(err)
	}
	waitProfile(t, r.c, DefaultProfile, localapi.StateConnected)
	a.mu.Lock()
	key := a.registers[len(a.registers)-1].PublicKey
	a.mu.Unlock()
	if f := readProfiles(t, dir); len(f.Profiles) != 1 || f.Profiles[0].LastPeer != key {
		t.Fatalf("profiles.json does not keep the last registration %s: %+v", key, f.Profiles)
	}

	// "kill -9": a second daemon on the same state directory, the first
	// one never stopped.
	d2, err := New(Options{StateDir: dir, InterfacePrefix: "gwe", Tunnels: &memTunnels{},
		NewSignIn: func(api.Config, []byte) (engine.SignIn, error) { return memSignIn{}, nil },
		NewAPI:    func(string, []byte) (engine.API, error) { return a, nil }})
	if err != nil {
		t.Fatal(err)
	}
	defer d2.Shutdown()
	if err := d2.Up(ctx, localapi.UpRequest{}); err != nil {
		t.Fatal(err)
	}
	waitConnected(t, d2)
	a.mu.Lock()
	last := a.registers[len(a.registers)-1]
	a.mu.Unlock()
	if last.Replaces != key || a.count() != 1 {
		t.Fatalf("after the crash: replaces %q (want %q), %d peers on the server", last.Replaces, key, a.count())
	}
	// A clean down removes the peer and forgets the key.
	d2.Shutdown()
	if f := readProfiles(t, dir); f.Profiles[0].LastPeer != "" || a.count() != 0 {
		t.Fatalf("after down: last_peer %q, %d peers", f.Profiles[0].LastPeer, a.count())
	}
}

// Shutdown returns within the engine's teardown bound even when the
// server takes every DELETE and never answers.
func TestShutdownBoundedWithASilentServer(t *testing.T) {
	a := &memAPI{routes: []string{"10.203.96.0/20"}, peers: map[string]bool{}}
	r := newDaemonRig(t, t.TempDir(), map[string]*memAPI{"https://vpn.test": a}, 0)
	ctx := context.Background()
	if _, err := r.c.Up(ctx, localapi.UpRequest{Server: "https://vpn.test"}); err != nil {
		t.Fatal(err)
	}
	waitProfile(t, r.c, DefaultProfile, localapi.StateConnected)
	a.mu.Lock()
	a.holdDelete = true
	a.mu.Unlock()
	done := make(chan struct{})
	go func() { r.d.Shutdown(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("shutdown did not return with the server silent")
	}
}

// Every network change and wake closes the servers' idle connections, at
// once (Changed) and with the debounced event.
func TestNetworkChangeDropsConnections(t *testing.T) {
	a := &memAPI{routes: []string{"10.203.96.0/20"}, peers: map[string]bool{}}
	r := newDaemonRig(t, t.TempDir(), map[string]*memAPI{"https://vpn.test": a}, 0)
	if _, err := r.c.Up(context.Background(), localapi.UpRequest{Server: "https://vpn.test"}); err != nil {
		t.Fatal(err)
	}
	waitProfile(t, r.c, DefaultProfile, localapi.StateConnected)
	r.d.DropConnections()
	r.d.Notify(engine.EventWake)
	r.d.Notify(engine.EventNetworkChange)
	a.mu.Lock()
	n := a.idleCloses
	a.mu.Unlock()
	if n != 3 {
		t.Fatalf("idle connections closed %d times, want 3", n)
	}
}

// A profile whose first up failed stays out of profiles.json when another
// profile's change writes the file.
func TestFailedProfileNotSavedByOthers(t *testing.T) {
	dir := t.TempDir()
	apis := map[string]*memAPI{
		"https://a.test": {routes: []string{"10.203.16.0/20"}, peers: map[string]bool{}},
		"https://b.test": {routes: []string{"10.203.32.0/20"}, peers: map[string]bool{}},
		"https://refused.test": {peers: map[string]bool{}, registerErr: &engine.ServerError{Kind: engine.ErrForbidden,
			Message: "your account is not in the group allowed to use this VPN"}},
	}
	r := newDaemonRig(t, dir, apis, 0)
	ctx := context.Background()
	for _, n := range []string{"a", "b"} {
		if _, err := r.c.Up(ctx, localapi.UpRequest{Profile: n, Server: "https://" + n + ".test"}); err != nil {
			t.Fatal(err)
		}
		waitProfile(t, r.c, n, localapi.StateConnected)
	}
	if _, err := r.c.Up(ctx, localapi.UpRequest{Profile: "work", Server: "https://refused.test"}); err != nil {
		t.Fatal(err)
	}
	waitProfile(t, r.c, "work", localapi.StateError)
	if _, err := r.c.Remove(ctx, localapi.ProfileRequest{Profile: "b"}); err != nil {
		t.Fatal(err)
	}
	if f := readProfiles(t, dir); len(f.Profiles) != 1 || f.Profiles[0].Name != "a" {
		t.Fatalf("profiles.json after removing b, with work never connected: %+v", f.Profiles)
	}
}
