// Package engine is the client's state machine for one profile (one server):
// sign in, register a fresh in-memory key, bring the tunnel up, watch that
// packets flow, and re-register silently when the peer is gone. It has no OS
// code: the server API, sign-in, tunnel, clock and OS signals are ports.
package engine

import (
	"context"
	"errors"
	"log/slog"
	"net/netip"
	"sync"
	"time"

	"github.com/ghostwire/ghostwire/app/localapi"
	"github.com/ghostwire/ghostwire/server/api"
	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"
)

// Timing holds the engine's intervals; zero fields take the defaults.
type Timing struct {
	Tick             time.Duration // how often handshake and clocks are looked at
	HandshakeTimeout time.Duration // how long to wait for packets after (re)configuring
	StaleAfter       time.Duration // a latest handshake older than this means the session is dead
	PeerCheck        time.Duration // how often the server is asked about our own peer
	ClockJump        time.Duration // wall clock moving this much more than monotonic = slept
	RetryMin         time.Duration // first wait before retrying an unreachable server
	RetryMax         time.Duration
	TeardownTimeout  time.Duration // bound on DELETE + tunnel close at down
	// LivenessTimeout bounds the wait for the answer to a forced handshake
	// after a wake, a network change or a silence; one unanswered halfway
	// is sent again and waited for as long, then the path is dead.
	LivenessTimeout time.Duration
	// Poll is how often the tunnel's counters are read while data goes
	// out or a check is open (an in-process read, cheap); on an idle tunnel
	// that reports outgoing packets (OutgoingNotifier) it is Tick.
	Poll time.Duration
	// SuspectAfter: data sent (more than a keepalive) and nothing received
	// for this long makes the engine check the connection at once.
	SuspectAfter time.Duration
	// ProbeBackoffMax bounds the wait between checks while the server
	// cannot be reached.
	ProbeBackoffMax time.Duration
	// FailoverAfter replaces SuspectAfter while the server's other replicas
	// are standby peers (failover.go): a false alarm costs a few forced
	// handshakes, a real one is a failover whose gap this mostly is.
	FailoverAfter time.Duration
}

func (t Timing) withDefaults() Timing {
	def := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&t.Tick, 2*time.Second)
	// Passive keepalives answer ours after 10 s (KeepaliveTimeout): 20 s covers it.
	def(&t.HandshakeTimeout, 20*time.Second)
	// RejectAfterTime (180 s) + one keepalive interval: no session can be alive.
	def(&t.StaleAfter, 205*time.Second)
	// The data plane's silence is the primary signal that the peer is
	// gone; this check is the backstop for idle tunnels. Each check is a
	// token verification and a map lookup on the server (~0.1 ms): 30 s is
	// ~330 requests/s at 10,000 clients.
	def(&t.PeerCheck, 30*time.Second)
	def(&t.ClockJump, 15*time.Second)
	def(&t.RetryMin, 2*time.Second)
	def(&t.RetryMax, 60*time.Second)
	def(&t.TeardownTimeout, 5*time.Second)
	// A handshake takes one round trip; 3 s covers a slow mobile link
	// without leaving a dead tunnel looking connected for long.
	def(&t.LivenessTimeout, 3*time.Second)
	def(&t.Poll, 200*time.Millisecond)
	// Any working path answers data within a round trip (a TCP ACK, a
	// reply); 1 s covers slow links, and a false suspicion costs one
	// forced handshake.
	def(&t.SuspectAfter, time.Second)
	def(&t.ProbeBackoffMax, 15*time.Second)
	def(&t.FailoverAfter, 500*time.Millisecond)
	return t
}

// Config builds an Engine.
type Config struct {
	Name       string // profile name
	Server     string // server base URL, for display
	Interface  string // tunnel interface name (gw0...)
	DeviceName string // label sent to the server (hostname)

	API       API
	NewSignIn NewSignIn
	Tunnels   Tunnels
	Clock     Clock // nil: SystemClock
	// Claim is asked before routes are installed; it refuses routes that
	// overlap another profile's (an error wrapping ErrConflict). Optional.
	Claim func(name string, routes []netip.Prefix) error
	// Release is told when the routes are removed. Optional.
	Release func(name string)
	// OnChange is called (never under the engine's lock) after the profile
	// changed; read Profile() for the new state.
	OnChange func()
	// LastPeer is the public key of this profile's last registration that
	// may still be on the server (a daemon killed with -9 could not remove
	// it); the next registration replaces it. OnLastPeer is told (never
	// under the engine's lock) whenever that key changes, "" once the
	// server has none of ours, so it can be kept across restarts. Both
	// optional.
	LastPeer   string
	OnLastPeer func(publicKey string)
	Log        *slog.Logger
	Timing     Timing
}

// Engine runs one profile's connection.
type Engine struct {
	c   Config
	t   Timing
	log *slog.Logger

	events chan arrival

	// opMu serializes Up/Down/Login/Logout so a down waits for the run to end.
	opMu   sync.Mutex
	cancel context.CancelFunc
	done   chan struct{}

	mu        sync.Mutex
	prof      localapi.Profile
	promptSeq uint64
	signer    SignIn
	serverCfg *api.Config
	// Owned by the run goroutine while it runs (and by Down after it ended).
	tun  Tunnel
	key  *wgtypes.Key
	peer *api.Peer
	tcfg *TunnelConfig // what tun runs now (re-applied on a network change)
	last string        // public key of the last registration (lastpeer.go)
	// activeName is the server replica the routes go to (with several);
	// lastMove is when they last moved (monotonic).
	activeName string
	lastMove   time.Time
	// later carries work for the run goroutine from its helpers (the
	// background question about live replicas); bg counts the helpers.
	later chan func()
	bg    sync.WaitGroup
}

// New returns a disconnected engine.
func New(c Config) *Engine {
	if c.Clock == nil {
		c.Clock = SystemClock{}
	}
	if c.Log == nil {
		c.Log = slog.Default()
	}
	e := &Engine{c: c, t: c.Timing.withDefaults(), events: make(chan arrival, 8), last: c.LastPeer, later: make(chan func(), 4)}
	e.log = c.Log.With("profile", c.Name)
	e.prof = localapi.Profile{Name: c.Name, Server: c.Server, State: localapi.StateDisconnected, Interface: c.Interface}
	return e
}

// Profile returns a snapshot of the profile's state.
func (e *Engine) Profile() localapi.Profile {
	e.mu.Lock()
	defer e.mu.Unlock()
	p := e.prof
	p.Routes = append([]string(nil), p.Routes...)
	p.DNSServers = append([]string(nil), p.DNSServers...)
	p.SearchDomains = append([]string(nil), p.SearchDomains...)
	p.MatchDomains = append([]string(nil), p.MatchDomains...)
	if p.SignIn != nil {
		s := *p.SignIn
		p.SignIn = &s
	}
	return p
}

// arrival is an event and the wall time it reached the engine.
type arrival struct {
	ev Event
	at time.Time
}

// idleCloser is a port holding pooled connections (the server client, the
// sign-in session's HTTP client).
type idleCloser interface{ CloseIdleConnections() }

// DropConnections closes the ports' idle pooled connections: after a
// network change or a wake they may belong to an address that is gone, and
// a request sent on one would wait for an answer that cannot come. The next
// request dials afresh. It never blocks on the network.
func (e *Engine) DropConnections() {
	for _, p := range []any{e.c.API, e.signerNow()} {
		if c, ok := p.(idleCloser); ok {
			c.CloseIdleConnections()
		}
	}
}

// Notify hands an OS signal to the engine; it never blocks.
func (e *Engine) Notify(ev Event) {
	select {
	case e.events <- arrival{ev: ev, at: e.c.Clock.Wall()}:
	default:
	}
}

// Running reports whether the engine is connecting or connected.
func (e *Engine) Running() bool {
	e.opMu.Lock()
	defer e.opMu.Unlock()
	return e.runningLocked()
}

func (e *Engine) runningLocked() bool {
	if e.done == nil {
		return false
	}
	select {
	case <-e.done:
		return false
	default:
		return true
	}
}

// Up starts connecting (signing in if needed) and returns at once; progress
// shows in Profile. Up on a running engine changes nothing.
func (e *Engine) Up(mode SignInMode) {
	e.opMu.Lock()
	defer e.opMu.Unlock()
	if e.runningLocked() {
		return
	}
	// Said before returning, so a front end never reads a stale state.
	e.setState(localapi.StateRegistering, "")
	e.start(func(ctx context.Context) { e.run(ctx, mode) })
}

// Login signs in again. When the profile was waiting for a sign-in to
// reconnect, it reconnects afterwards; otherwise it only signs in.
func (e *Engine) Login(mode SignInMode) {
	e.opMu.Lock()
	defer e.opMu.Unlock()
	if e.runningLocked() {
		return
	}
	wasWanted := e.Profile().State == localapi.StateNeedsSignIn
	e.setState(localapi.StateSigningIn, "checking your sign-in")
	e.start(func(ctx context.Context) {
		if wasWanted {
			e.run(ctx, mode)
			return
		}
		e.loginOnly(ctx, mode)
	})
}

func (e *Engine) start(fn func(ctx context.Context)) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	e.cancel, e.done = cancel, done
	go func() {
		defer close(done)
		defer e.bg.Wait() // a run's background helpers (failover.go) end with it
		fn(ctx)
	}()
}

// Down stops the connection: removes the peer from the server, closes the
// tunnel and restores routes and DNS. It cancels a sign-in in progress.
func (e *Engine) Down() {
	e.opMu.Lock()
	defer e.opMu.Unlock()
	e.stopLocked()
	e.teardown("")
	e.update(func(p *localapi.Profile) {
		p.State = localapi.StateDisconnected
		p.Reason, p.ErrorCode = "", ""
		p.SignIn = nil
	})
}

// Logout disconnects and forgets the sign-in.
func (e *Engine) Logout() {
	e.Down()
	e.mu.Lock()
	s := e.signer
	e.signer = nil
	e.prof.User, e.prof.SessionExpiresAt = "", nil
	e.mu.Unlock()
	if s != nil {
		s.Logout()
	}
	e.changed()
}

// Extend rotates the key now (a new peer with a new lifetime, same address).
func (e *Engine) Extend() error {
	e.mu.Lock()
	connected := e.prof.State == localapi.StateConnected
	e.mu.Unlock()
	if !connected {
		return localapi.Errorf(localapi.CodeBadRequest, "profile %q is not connected: run `ghostwire up` first", e.c.Name)
	}
	e.Notify(eventExtend)
	return nil
}

const eventExtend Event = 100

func (e *Engine) stopLocked() {
	if e.cancel != nil {
		e.cancel()
		<-e.done
		e.cancel = nil
	}
}

// teardown removes the last registration from the server (best effort,
// silent token only: a peer that stays is replaced by the next
// registration, or expires) and closes the tunnel. Only called when no run
// goroutine is active; bounded by TeardownTimeout.
func (e *Engine) teardown(why string) {
	ctx, cancel := context.WithTimeout(context.Background(), e.t.TeardownTimeout)
	defer cancel()
	if e.last != "" {
		if s := e.signerNow(); s != nil {
			if tok, err := s.Token(ctx); err == nil {
				err := e.c.API.DeletePeer(ctx, tok.AccessToken, e.last)
				if err == nil || errors.Is(err, ErrNotFound) {
					e.forget(e.last)
				} else {
					e.log.Warn("could not remove the peer from the server; the next `ghostwire up` replaces it, or it expires by itself", "err", err)
				}
			}
		}
	}
	if e.tun != nil {
		if err := e.tun.Close(); err != nil {
			e.log.Error("closing the tunnel failed", "err", err)
		}
		if e.c.Release != nil {
			e.c.Release(e.c.Name)
		}
	}
	e.tun, e.key, e.peer, e.tcfg = nil, nil, nil, nil
	e.update(func(p *localapi.Profile) {
		p.Address, p.Endpoint = "", ""
		p.Routes, p.DNSServers, p.SearchDomains, p.MatchDomains = nil, nil, nil, nil
		p.LatestHandshake, p.ConnectedSince, p.ExpiresAt = nil, nil, nil
		p.RxBytes, p.TxBytes = 0, 0
	})
	if why != "" {
		e.log.Info("tunnel down", "why", why)
	}
}

func (e *Engine) signerNow() SignIn {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.signer
}

// update changes the profile under the lock and reports the change.
func (e *Engine) update(fn func(p *localapi.Profile)) {
	e.mu.Lock()
	fn(&e.prof)
	e.mu.Unlock()
	e.changed()
}

func (e *Engine) changed() {
	if e.c.OnChange != nil {
		e.c.OnChange()
	}
}

func (e *Engine) setState(s localapi.State, reason string) {
	e.update(func(p *localapi.Profile) {
		if p.State != s || p.Reason != reason {
			e.log.Info("state", "state", s, "reason", reason)
		}
		p.State, p.Reason = s, reason
		p.ErrorCode = ""
		if s != localapi.StateSigningIn {
			p.SignIn = nil
		}
		if s != localapi.StateConnected {
			p.ConnectedSince = nil
		}
	})
}

// fail ends the run with a state a person must act on.
func (e *Engine) fail(err error) {
	state, code := localapi.StateError, ErrorCode(err)
	if errors.Is(err, ErrSignInRequired) {
		state = localapi.StateNeedsSignIn
	}
	e.teardown(err.Error())
	e.update(func(p *localapi.Profile) {
		p.State, p.Reason, p.ErrorCode, p.SignIn = state, userMessage(err), code, nil
	})
	e.log.Warn("connection stopped", "state", state, "err", err)
}

// ErrorCode maps an error of the engine or its ports to the local API's
// codes (the CLI's exit codes).
func ErrorCode(err error) string {
	switch {
	case errors.Is(err, ErrSignInRequired), errors.Is(err, ErrSignInFailed), errors.Is(err, ErrUnauthorized):
		return localapi.CodeSignIn
	case errors.Is(err, ErrForbidden):
		return localapi.CodeForbidden
	case errors.Is(err, ErrConflict):
		return localapi.CodeConflict
	case errors.Is(err, ErrDeviceCap):
		return localapi.CodeDeviceCap
	case errors.Is(err, ErrUnreachable):
		return localapi.CodeUnavailable
	case errors.Is(err, ErrRejected):
		return localapi.CodeBadRequest
	}
	return localapi.CodeInternal
}

func userMessage(err error) string {
	if errors.Is(err, ErrSignInRequired) {
		var se *ServerError
		if errors.As(err, &se) {
			return se.Message
		}
		return "your sign-in has expired and could not be renewed: run `ghostwire login` (or choose Sign in from the menu)"
	}
	return err.Error()
}
