package engine

// Fakes of the engine's own ports. The engine is pure logic; its real ports
// (HTTP client, auth/signin, tunnel) are tested in their packages and together
// in the daemon's system test. These fakes model the behaviour the engine
// relies on: a server that forgets peers when it restarts, a sign-in whose
// refresh can be refused, a tunnel whose handshakes happen only while packets
// can flow.

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/ghostwire/ghostwire/server/api"
	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"
)

// fakeClock has separate monotonic and wall readings so a sleep can be faked
// by moving only the wall clock.
type fakeClock struct {
	mu      sync.Mutex
	mono    time.Time
	wall    time.Time
	waiters []waiter
}

type waiter struct {
	at time.Time
	ch chan time.Time
}

func newFakeClock() *fakeClock {
	t0 := time.Date(2026, 11, 25, 3, 0, 0, 0, time.UTC)
	return &fakeClock{mono: t0, wall: t0}
}

func (c *fakeClock) Now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.mono }
func (c *fakeClock) Wall() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.wall }
func (c *fakeClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch := make(chan time.Time, 1)
	if d <= 0 {
		ch <- c.mono
		return ch
	}
	c.waiters = append(c.waiters, waiter{at: c.mono.Add(d), ch: ch})
	return ch
}

// Advance moves both clocks and fires due timers.
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.mono = c.mono.Add(d)
	c.wall = c.wall.Add(d)
	var keep []waiter
	for _, w := range c.waiters {
		if !w.at.After(c.mono) {
			w.ch <- c.mono
		} else {
			keep = append(keep, w)
		}
	}
	c.waiters = keep
	c.mu.Unlock()
}

// Sleep moves only the wall clock, as a suspended laptop sees it.
func (c *fakeClock) Sleep(d time.Duration) {
	c.mu.Lock()
	c.wall = c.wall.Add(d)
	c.mu.Unlock()
}

// fakeServer is the /v1 API with the rules the engine depends on.
type fakeServer struct {
	h           *holds
	mu          sync.Mutex
	clock       *fakeClock
	cfg         api.Config
	peers       map[string]api.Peer // by public key
	tokens      map[string]bool     // valid access tokens
	nextAddr    int
	lifetime    time.Duration
	routes      []string
	down        bool // unreachable
	forbidden   bool
	capped      bool // every registration hits the device cap
	configCalls int
	peerCalls   int // GET of one peer, answered or not
	registers   []api.RegisterRequest
	// stallPeer: the next GETs of a peer never get an answer.
	stallPeer int
	deletes   []string
}

func newFakeServer(c *fakeClock, h *holds) *fakeServer {
	return &fakeServer{h: h, clock: c, peers: map[string]api.Peer{}, tokens: map[string]bool{}, nextAddr: 2,
		lifetime: time.Hour, routes: []string{"10.203.96.0/20", "10.203.112.0/20"},
		cfg: api.Config{ServerName: "test", Provider: api.ProviderOIDC, Issuer: "https://idp.test", ClientID: "gw"}}
}

var serverKey, _ = wgtypes.GeneratePrivateKey()

func (s *fakeServer) Config(ctx context.Context) (api.Config, error) {
	end, err := s.h.at(ctx, "config")
	defer end()
	if err != nil {
		return api.Config{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.configCalls++
	if s.down {
		return api.Config{}, &ServerError{Kind: ErrUnreachable, Message: "cannot reach the server"}
	}
	return s.cfg, nil
}

func (s *fakeServer) auth(token string) error {
	if s.down {
		return &ServerError{Kind: ErrUnreachable, Message: "cannot reach the server"}
	}
	if !s.tokens[token] {
		return &ServerError{Kind: ErrUnauthorized, Message: "token refused"}
	}
	if s.forbidden {
		return &ServerError{Kind: ErrForbidden, Message: "your account is not in the group allowed to use this VPN"}
	}
	return nil
}

func (s *fakeServer) Register(ctx context.Context, token string, req api.RegisterRequest) (api.Peer, error) {
	end, err := s.h.at(ctx, "register")
	defer end()
	if err != nil {
		return api.Peer{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.auth(token); err != nil {
		return api.Peer{}, err
	}
	s.registers = append(s.registers, req)
	if s.capped {
		return api.Peer{}, &ServerError{Kind: ErrDeviceCap, Message: "too many devices"}
	}
	// As the real server: a replaces key it does not have is ignored.
	addr := ""
	if old, ok := s.peers[req.Replaces]; ok && req.Replaces != "" {
		addr = old.Address
		delete(s.peers, req.Replaces)
	} else {
		addr = fmt.Sprintf("100.83.0.%d/32", s.nextAddr)
		s.nextAddr++
	}
	now := s.clock.Wall()
	p := api.Peer{PublicKey: req.PublicKey, Address: addr, ServerPublicKey: serverKey.PublicKey().String(),
		Endpoint: "10.203.0.1:51820", Routes: s.routes, DNSServers: []string{"10.203.96.10"},
		SearchDomains: []string{"svc.cluster.local"}, MatchDomains: []string{"cluster.local"}, MTU: 1380,
		KeepaliveSeconds: 25, CreatedAt: now, ExpiresAt: now.Add(s.lifetime)}
	s.peers[req.PublicKey] = p
	return p, nil
}

func (s *fakeServer) Peer(ctx context.Context, token, key string) (api.Peer, error) {
	end, err := s.h.at(ctx, "peer")
	defer end()
	if err != nil {
		return api.Peer{}, err
	}
	s.mu.Lock()
	s.peerCalls++
	if s.stallPeer > 0 { // its packets are lost: no answer until the caller gives up
		s.stallPeer--
		s.mu.Unlock()
		<-ctx.Done()
		return api.Peer{}, &ServerError{Kind: ErrUnreachable, Message: ctx.Err().Error()}
	}
	defer s.mu.Unlock()
	if err := s.auth(token); err != nil {
		return api.Peer{}, err
	}
	p, ok := s.peers[key]
	if !ok {
		return api.Peer{}, &ServerError{Kind: ErrNotFound, Message: "no such peer"}
	}
	return p, nil
}

func (s *fakeServer) DeletePeer(ctx context.Context, token, key string) error {
	end, err := s.h.at(ctx, "delete")
	defer end()
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.auth(token); err != nil {
		return err
	}
	s.deletes = append(s.deletes, key)
	if _, ok := s.peers[key]; !ok {
		return &ServerError{Kind: ErrNotFound, Message: "no such peer"}
	}
	delete(s.peers, key)
	return nil
}

func (s *fakeServer) restart() { s.mu.Lock(); s.peers = map[string]api.Peer{}; s.mu.Unlock() }
func (s *fakeServer) has(key string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.peers[key]
	return ok
}
func (s *fakeServer) peerKeys() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var ks []string
	for k := range s.peers {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}
func (s *fakeServer) registerCount() int { s.mu.Lock(); defer s.mu.Unlock(); return len(s.registers) }
func (s *fakeServer) lastRegister() api.RegisterRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.registers[len(s.registers)-1]
}

// fakeSignIn issues tokens valid for tokenLife; refresh can be refused.
type fakeSignIn struct {
	h             *holds
	mu            sync.Mutex
	srv           *fakeServer
	clock         *fakeClock
	session       bool
	token         Token
	n             int
	refuseRefresh bool
	approve       chan struct{}
	signInCtxErr  error
	prompts       int
	tokenLife     time.Duration
}

func (f *fakeSignIn) issue() {
	f.n++
	f.token = Token{AccessToken: fmt.Sprintf("tok-%d", f.n), ExpiresAt: f.clock.Wall().Add(f.tokenLife), User: "ada@example.com"}
	f.srv.mu.Lock()
	f.srv.tokens[f.token.AccessToken] = true
	f.srv.mu.Unlock()
}

func (f *fakeSignIn) SignIn(ctx context.Context, mode SignInMode, prompt func(Prompt)) error {
	end, err := f.h.at(ctx, "signin")
	defer end()
	if err != nil {
		return err
	}
	f.mu.Lock()
	f.prompts++
	f.mu.Unlock()
	prompt(Prompt{VerificationURI: "https://idp.test/device", UserCode: "ABCD-EFGH", ExpiresAt: f.clock.Wall().Add(10 * time.Minute)})
	select {
	case <-ctx.Done():
		f.mu.Lock()
		f.signInCtxErr = ctx.Err()
		f.mu.Unlock()
		return ctx.Err()
	case <-f.approve:
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.session = true
	f.issue()
	return nil
}

func (f *fakeSignIn) Token(ctx context.Context) (Token, error) {
	end, err := f.h.at(ctx, "token")
	defer end()
	if err != nil {
		return Token{}, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.session {
		return Token{}, ErrSignInRequired
	}
	if !f.clock.Wall().Before(f.token.ExpiresAt) {
		if f.refuseRefresh {
			f.session = false
			return Token{}, &ServerError{Kind: ErrSignInRequired, Message: "your sign-in has expired (the identity provider refused to renew it): run `ghostwire login`"}
		}
		f.issue()
	}
	return f.token, nil
}

func (f *fakeSignIn) Logout() { f.mu.Lock(); f.session = false; f.mu.Unlock() }

// fakeNet decides whether packets flow between the tunnel and the server.
type fakeTunnels struct {
	h       *holds
	mu      sync.Mutex
	clock   *fakeClock
	srv     *fakeServer
	blocked bool // UDP dropped
	broken  bool // the device died under us
	ups     int
	reconfs int
	closes  int
	live    *fakeTunnel
	cfgs    []TunnelConfig
	// rtt is how long a forced handshake takes to be answered.
	rtt          time.Duration
	rehandshakes int
	// lose drops the next initiations of forced handshakes; floods counts
	// those dropped by the responder's flood rule (one within 20 ms of the
	// last handshake).
	lose, floods int
	calls        []string // reconfigure, rehandshake: in order
	reconfErr    error    // Reconfigure fails with it (after recording the call)
	// Traffic through the tunnel, as the counters see it: while load is
	// set, a 100-byte packet goes out every 50 ms; a path that flows answers
	// each with 200 bytes, unless oneWay (nothing answers: only the
	// server's passive keepalive comes back 10 s after data) or
	// dropReplies (a lossy path: data answers are lost, handshakes not).
	load        bool
	oneWay      bool
	dropReplies bool
	// notify, when set, makes Up return tunnels that report outgoing
	// packets (OutgoingNotifier); stats counts Stats calls.
	notify *outgoingFake
	stats  int
}

const (
	trafficEvery = 50 * time.Millisecond
	keepaliveLen = 32 // a keepalive on the wire
	initiation   = 148
	response     = 92
)

type fakeTunnel struct {
	ts     *fakeTunnels
	cfg    TunnelConfig
	hs     time.Time
	rx, tx int64
	closed bool
	// answerAt is when the answer to a forced handshake arrives (monotonic;
	// zero: none in flight).
	answerAt time.Time
	// lastSent (monotonic) drives the persistent keepalive (25 s after the
	// last packet out); traffic is generated from trafficAt on; dataAt is
	// when the server last got data it has not answered (passive keepalive).
	lastSent, trafficAt, dataAt time.Time
}

func (ts *fakeTunnels) Up(ctx context.Context, cfg TunnelConfig) (Tunnel, error) {
	end, err := ts.h.at(ctx, "up")
	defer end()
	if err != nil {
		return nil, err
	}
	ts.mu.Lock()
	defer ts.mu.Unlock()
	ts.ups++
	ts.broken = false
	ts.cfgs = append(ts.cfgs, cfg)
	now := ts.clock.Now()
	ts.live = &fakeTunnel{ts: ts, cfg: cfg, lastSent: now, trafficAt: now}
	if ts.notify != nil {
		return &notifyingTunnel{fakeTunnel: ts.live}, nil
	}
	return ts.live, nil
}

func (ts *fakeTunnels) flows(t *fakeTunnel) bool {
	return !ts.blocked && !t.closed && ts.srv.has(t.cfg.PrivateKey.PublicKey().String())
}

func (t *fakeTunnel) Reconfigure(ctx context.Context, cfg TunnelConfig) error {
	end, err := t.ts.h.at(ctx, "reconfigure")
	defer end()
	if err != nil {
		return err
	}
	t.ts.mu.Lock()
	defer t.ts.mu.Unlock()
	t.ts.reconfs++
	t.ts.cfgs = append(t.ts.cfgs, cfg)
	t.ts.calls = append(t.ts.calls, "reconfigure")
	if t.ts.reconfErr != nil {
		return t.ts.reconfErr
	}
	if cfg.PrivateKey != t.cfg.PrivateKey {
		t.hs = time.Time{} // a new peer on both ends: a new session is needed
	}
	t.cfg = cfg
	return nil
}

// Stats simulates what moves the counters: the persistent keepalive (25 s
// after the last packet out, never answered), the session renewed every
// 120 s (RekeyAfterTime) while packets flow, the answer to a forced
// handshake, and the scripted traffic.
func (t *fakeTunnel) Stats() (TunnelStats, error) {
	t.ts.mu.Lock()
	defer t.ts.mu.Unlock()
	t.ts.stats++
	if t.ts.broken && t == t.ts.live {
		return TunnelStats{}, fmt.Errorf("device gone")
	}
	now, mono := t.ts.clock.Wall(), t.ts.clock.Now()
	flows := t.ts.flows(t)
	if !t.answerAt.IsZero() && !mono.Before(t.answerAt) {
		t.answerAt = time.Time{}
		if flows {
			t.hs = now
			t.rx += response
		}
	}
	if flows && !t.hs.IsZero() && now.Sub(t.hs) >= 120*time.Second {
		t.hs = now
		t.tx += initiation
		t.rx += response
		t.lastSent = mono
	}
	if t.ts.load {
		for ; !t.trafficAt.Add(trafficEvery).After(mono); t.trafficAt = t.trafficAt.Add(trafficEvery) {
			t.tx += 100
			t.lastSent = t.trafficAt.Add(trafficEvery)
			switch {
			case !flows:
			case t.ts.oneWay:
				if t.dataAt.IsZero() {
					t.dataAt = t.lastSent
				}
			case !t.ts.dropReplies:
				t.rx += 200
			}
		}
		if !t.dataAt.IsZero() && mono.Sub(t.dataAt) >= 10*time.Second {
			t.dataAt = time.Time{}
			if flows {
				t.rx += keepaliveLen // passive keepalive
			}
		}
	} else {
		t.trafficAt = mono
	}
	if mono.Sub(t.lastSent) >= 25*time.Second {
		t.tx += keepaliveLen
		t.lastSent = mono
	}
	return TunnelStats{LatestHandshake: t.hs, RxBytes: t.rx, TxBytes: t.tx}, nil
}

func (t *fakeTunnel) Kick() error {
	t.ts.mu.Lock()
	defer t.ts.mu.Unlock()
	if t.hs.IsZero() {
		t.tx += initiation
	} else {
		t.tx += keepaliveLen
	}
	t.lastSent = t.ts.clock.Now()
	if t.ts.flows(t) {
		if t.hs.IsZero() {
			t.hs = t.ts.clock.Wall()
		}
		t.rx += 32
	}
	return nil
}

// Rehandshake sends an initiation that supersedes any in flight; while
// packets flow, its answer arrives one rtt later (the fake clock must move
// for it to be seen), unless it is lost or comes within the responder's
// flood window (20 ms after the last handshake), as wireguard-go drops it.
func (t *fakeTunnel) Rehandshake() error {
	t.ts.mu.Lock()
	defer t.ts.mu.Unlock()
	t.ts.rehandshakes++
	t.ts.calls = append(t.ts.calls, "rehandshake")
	t.tx += initiation
	t.lastSent = t.ts.clock.Now()
	t.answerAt = time.Time{}
	switch {
	case t.ts.lose > 0:
		t.ts.lose--
	case !t.hs.IsZero() && t.ts.clock.Wall().Sub(t.hs) <= 20*time.Millisecond:
		t.ts.floods++
	default:
		t.answerAt = t.ts.clock.Now().Add(max(t.ts.rtt, time.Millisecond))
	}
	return nil
}

func (t *fakeTunnel) Close() error {
	t.ts.mu.Lock()
	defer t.ts.mu.Unlock()
	t.closed = true
	t.ts.closes++
	return nil
}
