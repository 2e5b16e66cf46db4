//go:build linux

package daemon

// These tests run the daemon's own logic (profiles, persistence, overlap,
// socket, caller checks) over a real unix socket. The engine's ports are
// small in-memory stand-ins here; the real tunnel, sign-in and server are
// exercised together in system_test.go.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ghostwire/ghostwire/app/engine"
	"github.com/ghostwire/ghostwire/app/localapi"
	"github.com/ghostwire/ghostwire/server/api"
	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"
)

type memAPI struct {
	mu     sync.Mutex
	routes []string
	peers  map[string]bool
	n      int
	// configErr and registerErr make those calls fail.
	configErr, registerErr error
	// holdDelete holds every DELETE until its context ends.
	holdDelete bool
	registers  []api.RegisterRequest
	idleCloses int
}

func (m *memAPI) Config(context.Context) (api.Config, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.configErr != nil {
		return api.Config{}, m.configErr
	}
	return api.Config{Provider: api.ProviderOIDC, Issuer: "https://idp.test", ClientID: "gw"}, nil
}

func (m *memAPI) CloseIdleConnections() { m.mu.Lock(); m.idleCloses++; m.mu.Unlock() }

func (m *memAPI) Register(_ context.Context, tok string, req api.RegisterRequest) (api.Peer, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.registers = append(m.registers, req)
	if m.registerErr != nil {
		return api.Peer{}, m.registerErr
	}
	delete(m.peers, req.Replaces)
	m.n++
	m.peers[req.PublicKey] = true
	k, _ := wgtypes.GeneratePrivateKey()
	now := time.Now()
	return api.Peer{PublicKey: req.PublicKey, Address: fmt.Sprintf("100.83.1.%d/32", m.n), ServerPublicKey: k.PublicKey().String(),
		Endpoint: "127.0.0.1:51820", Routes: m.routes, MTU: 1380, KeepaliveSeconds: 25, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}, nil
}

func (m *memAPI) Peer(_ context.Context, _, key string) (api.Peer, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.peers[key] {
		return api.Peer{}, &engine.ServerError{Kind: engine.ErrNotFound, Message: "gone"}
	}
	return api.Peer{PublicKey: key}, nil
}

func (m *memAPI) DeletePeer(ctx context.Context, _, key string) error {
	m.mu.Lock()
	hold := m.holdDelete
	m.mu.Unlock()
	if hold {
		<-ctx.Done()
		return ctx.Err()
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.peers, key)
	return nil
}

func (m *memAPI) count() int { m.mu.Lock(); defer m.mu.Unlock(); return len(m.peers) }

type memSignIn struct{}

func (memSignIn) SignIn(context.Context, engine.SignInMode, func(engine.Prompt)) error { return nil }
func (memSignIn) Token(context.Context) (engine.Token, error) {
	return engine.Token{AccessToken: "tok", ExpiresAt: time.Now().Add(time.Hour), User: "ada"}, nil
}
func (memSignIn) Logout() {}

type memTunnels struct{ mu sync.Mutex }

type memTunnel struct{ hs time.Time }

func (ts *memTunnels) Up(context.Context, engine.TunnelConfig) (engine.Tunnel, error) {
	return &memTunnel{}, nil
}
func (t *memTunnel) Reconfigure(context.Context, engine.TunnelConfig) error { return nil }
func (t *memTunnel) Stats() (engine.TunnelStats, error) {
	return engine.TunnelStats{LatestHandshake: t.hs}, nil
}
func (t *memTunnel) Kick() error        { t.hs = time.Now(); return nil }
func (t *memTunnel) Rehandshake() error { t.hs = time.Now(); return nil }
func (t *memTunnel) Close() error       { return nil }

type rig struct {
	d      *Daemon
	c      *localapi.Client
	sock   string
	dir    string
	apis   map[string]*memAPI
	cancel context.CancelFunc
	done   chan error
}

func newDaemonRig(t *testing.T, dir string, apis map[string]*memAPI, mode os.FileMode) *rig {
	t.Helper()
	r := &rig{dir: dir, apis: apis, sock: filepath.Join(t.TempDir(), "gw.sock")}
	var err error
	r.d, err = New(Options{StateDir: dir, InterfacePrefix: "gwd", Tunnels: &memTunnels{},
		NewSignIn: func(api.Config, []byte) (engine.SignIn, error) { return memSignIn{}, nil },
		NewAPI: func(server string, ca []byte) (engine.API, error) {
			if a, ok := apis[server]; ok {
				return a, nil
			}
			return nil, fmt.Errorf("unknown test server %s", server)
		}})
	if err != nil {
		t.Fatal(err)
	}
	l, err := Listen(r.sock, mode)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel, r.done = cancel, make(chan error, 1)
	go func() { r.done <- Serve(ctx, l, r.d, AllowRootAndGroup, nil) }()
	t.Cleanup(func() {
		r.d.Shutdown()
		cancel()
		<-r.done
	})
	r.c = localapi.NewClient(r.sock)
	return r
}

func waitProfile(t *testing.T, c *localapi.Client, name string, want localapi.State) localapi.Profile {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var got localapi.Profile
	err := c.Watch(ctx, func(s localapi.Status) error {
		if p, ok := s.Profile(name); ok {
			got = p
			if p.State == want {
				return errDone
			}
		}
		return nil
	})
	if !errors.Is(err, errDone) {
		t.Fatalf("profile %s never reached %s (last %s %q): %v", name, want, got.State, got.Reason, err)
	}
	return got
}

var errDone = errors.New("done")

func TestUpStatusDownOverSocket(t *testing.T) {
	a := &memAPI{routes: []string{"10.203.96.0/20"}, peers: map[string]bool{}}
	r := newDaemonRig(t, t.TempDir(), map[string]*memAPI{"https://vpn.test": a}, 0)
	ctx := context.Background()

	if _, err := r.c.Up(ctx, localapi.UpRequest{Server: "vpn.test"}); err != nil {
		t.Fatal(err)
	}
	p := waitProfile(t, r.c, DefaultProfile, localapi.StateConnected)
	if p.Interface != "gwd0" || p.Address == "" || p.Server != "https://vpn.test" || a.count() != 1 {
		t.Fatalf("connected profile: %+v", p)
	}
	st, err := r.c.Status(ctx)
	if err != nil || len(st.Profiles) != 1 || st.DaemonVersion == "" || st.Seq == 0 {
		t.Fatalf("status: %+v %v", st, err)
	}
	if _, err := r.c.Down(ctx, localapi.ProfileRequest{}); err != nil {
		t.Fatal(err)
	}
	if st, _ := r.c.Status(ctx); st.Profiles[0].State != localapi.StateDisconnected || a.count() != 0 {
		t.Fatalf("after down: %+v, peers on server %d", st.Profiles[0], a.count())
	}
	// The saved settings hold the server and interface, never a key or token.
	b, err := os.ReadFile(filepath.Join(r.dir, "profiles.json"))
	if err != nil || !bytes.Contains(b, []byte(`"https://vpn.test"`)) || bytes.Contains(b, []byte("tok")) {
		t.Fatalf("profiles.json: %s %v", b, err)
	}
	if fi, _ := os.Stat(filepath.Join(r.dir, "profiles.json")); fi.Mode().Perm() != 0o600 {
		t.Fatalf("profiles.json mode %v", fi.Mode())
	}
}

func TestProfilesPersistAndResolve(t *testing.T) {
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
	}
	pa := waitProfile(t, r.c, "a", localapi.StateConnected)
	pb := waitProfile(t, r.c, "b", localapi.StateConnected)
	if pa.Interface == pb.Interface {
		t.Fatalf("two profiles share interface %s", pa.Interface)
	}
	// With two profiles and no default, a bare `down` must ask which one.
	_, err := r.c.Down(ctx, localapi.ProfileRequest{})
	if localapi.CodeOf(err) != localapi.CodeBadRequest || !strings.Contains(err.Error(), "--profile") {
		t.Fatalf("ambiguous down: %v", err)
	}
	if _, err := r.c.Down(ctx, localapi.ProfileRequest{All: true}); err != nil {
		t.Fatal(err)
	}
	r.d.Shutdown()

	// A new daemon on the same state dir knows both, disconnected.
	d2, err := New(Options{StateDir: dir, Tunnels: &memTunnels{},
		NewSignIn: func(api.Config, []byte) (engine.SignIn, error) { return memSignIn{}, nil },
		NewAPI:    func(server string, ca []byte) (engine.API, error) { return apis[server], nil }})
	if err != nil {
		t.Fatal(err)
	}
	st := d2.Status()
	if len(st.Profiles) != 2 || st.Profiles[0].Name != "a" || st.Profiles[1].Interface != pb.Interface {
		t.Fatalf("reloaded: %+v", st.Profiles)
	}
}

func TestOverlappingProfilesRefused(t *testing.T) {
	apis := map[string]*memAPI{
		"https://prod.test":    {routes: []string{"10.203.0.0/16"}, peers: map[string]bool{}},
		"https://staging.test": {routes: []string{"10.203.128.0/20"}, peers: map[string]bool{}},
	}
	r := newDaemonRig(t, t.TempDir(), apis, 0)
	ctx := context.Background()
	if _, err := r.c.Up(ctx, localapi.UpRequest{Profile: "prod", Server: "https://prod.test"}); err != nil {
		t.Fatal(err)
	}
	waitProfile(t, r.c, "prod", localapi.StateConnected)
	if _, err := r.c.Up(ctx, localapi.UpRequest{Profile: "staging", Server: "https://staging.test"}); err != nil {
		t.Fatal(err)
	}
	p := waitProfile(t, r.c, "staging", localapi.StateError)
	if p.ErrorCode != localapi.CodeConflict || !strings.Contains(p.Reason, `"prod"`) || !strings.Contains(p.Reason, `"staging"`) {
		t.Fatalf("overlap must name both profiles: %q %q", p.ErrorCode, p.Reason)
	}
	if apis["https://staging.test"].count() != 0 {
		t.Fatal("the refused profile left its peer on the server")
	}
	// Once prod is down, staging may connect.
	if _, err := r.c.Down(ctx, localapi.ProfileRequest{Profile: "prod"}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.c.Up(ctx, localapi.UpRequest{Profile: "staging"}); err != nil {
		t.Fatal(err)
	}
	waitProfile(t, r.c, "staging", localapi.StateConnected)
}

func TestBadRequests(t *testing.T) {
	r := newDaemonRig(t, t.TempDir(), map[string]*memAPI{}, 0)
	ctx := context.Background()
	for _, c := range []struct {
		req  localapi.UpRequest
		code string
		want string
	}{
		{localapi.UpRequest{}, localapi.CodeNotFound, "ghostwire up https://"},
		{localapi.UpRequest{Profile: "Bad Name!", Server: "https://x"}, localapi.CodeBadRequest, "profile name"},
		{localapi.UpRequest{Server: "http://vpn.example.com"}, localapi.CodeBadRequest, "clear text"},
		{localapi.UpRequest{Server: "https://x", CAPEM: "/etc/shadow"}, localapi.CodeBadRequest, "no PEM certificate"},
		{localapi.UpRequest{Server: "https://x", CAPEM: "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"}, localapi.CodeBadRequest, "never a key"},
	} {
		_, err := r.c.Up(ctx, c.req)
		if localapi.CodeOf(err) != c.code || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: got %v (%s), want %s containing %q", c.req, err, localapi.CodeOf(err), c.code, c.want)
		}
	}
	if _, err := r.c.Down(ctx, localapi.ProfileRequest{Profile: "nope"}); localapi.CodeOf(err) != localapi.CodeNotFound {
		t.Errorf("down of an unknown profile: %v", err)
	}
}

func TestSocketNotWorldWritable(t *testing.T) {
	r := newDaemonRig(t, t.TempDir(), map[string]*memAPI{}, 0)
	fi, err := os.Stat(r.sock)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode()&0o007 != 0 {
		t.Fatalf("socket mode %v lets everyone connect", fi.Mode())
	}
	// A second daemon on the same socket is refused with a clear message.
	if _, err := Listen(r.sock, 0); err == nil || !strings.Contains(err.Error(), "already listens") {
		t.Fatalf("second listener: %v", err)
	}
}

// AllowRootAndGroup is Linux-only for now.
func TestAllowRootAndGroup(t *testing.T) {
	if err := AllowRootAndGroup(Peer{UID: 0}); err != nil {
		t.Fatal(err)
	}
	if err := AllowRootAndGroup(Peer{UID: os.Geteuid()}); err != nil {
		t.Fatal(err)
	}
	err := AllowRootAndGroup(Peer{UID: 64999, GID: 64999})
	if err == nil || !strings.Contains(err.Error(), "usermod") {
		t.Fatalf("stranger: %v", err)
	}
}

func TestClaimOverlap(t *testing.T) {
	d := &Daemon{profiles: map[string]*profile{"a": {}, "b": {}}, claims: map[string][]netip.Prefix{}}
	if err := d.claim("a", []netip.Prefix{netip.MustParsePrefix("10.203.0.0/20")}); err != nil {
		t.Fatal(err)
	}
	if err := d.claim("b", []netip.Prefix{netip.MustParsePrefix("10.203.16.0/20")}); err != nil {
		t.Fatalf("adjacent ranges do not overlap: %v", err)
	}
	err := d.claim("b", []netip.Prefix{netip.MustParsePrefix("10.203.8.0/24")})
	if !errors.Is(err, engine.ErrConflict) {
		t.Fatalf("overlap not refused: %v", err)
	}
	d.release("a")
	if err := d.claim("b", []netip.Prefix{netip.MustParsePrefix("10.203.8.0/24")}); err != nil {
		t.Fatalf("after release: %v", err)
	}
}

func TestStubAddressPerProfile(t *testing.T) {
	for in, want := range map[string]string{"gw0": "127.0.0.153:53", "gw1": "127.0.0.154:53", "gwd12": "127.0.0.165:53"} {
		if got := stubAddress(in); got.String() != want {
			t.Errorf("%s: %s, want %s", in, got, want)
		}
	}
	if stubAddress("wg").IsValid() || stubAddress("gw999").IsValid() {
		t.Error("names without a small number keep the tunnel's default")
	}
}
