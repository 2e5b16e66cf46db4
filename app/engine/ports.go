package engine

import (
	"context"
	"errors"
	"net/netip"
	"time"

	"github.com/ghostwire/ghostwire/server/api"
	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"
)

// API is the part of the server's /v1 API the engine uses. Implementations
// return errors wrapping the Err* kinds below so the engine can decide.
type API interface {
	Config(ctx context.Context) (api.Config, error)
	Register(ctx context.Context, token string, req api.RegisterRequest) (api.Peer, error)
	Peer(ctx context.Context, token, publicKey string) (api.Peer, error)
	DeletePeer(ctx context.Context, token, publicKey string) error
}

// Kinds of server errors the engine branches on. Implementations wrap them
// with a message for people (see ServerError).
var (
	ErrNotFound     = errors.New("not found")      // our peer is gone (server restarted, expired, swept)
	ErrUnauthorized = errors.New("unauthorized")   // token refused: renew it
	ErrForbidden    = errors.New("forbidden")      // signed in, not allowed: a person must act
	ErrUnreachable  = errors.New("unreachable")    // network or server down: retry later
	ErrRejected     = errors.New("rejected")       // any other refusal (bad request, a certificate not trusted...)
	ErrDeviceCap    = errors.New("device cap")     // the account already has as many devices as the server allows
	ErrSignInFailed = errors.New("sign-in failed") // the sign-in flow ended without a token
	ErrConflict     = errors.New("conflict")       // e.g. routes overlap another profile's
)

// ServerError is an error with a message for people and a Kind to branch on.
type ServerError struct {
	Kind    error
	Message string
}

func (e *ServerError) Error() string        { return e.Message }
func (e *ServerError) Unwrap() error        { return e.Kind }
func (e *ServerError) Is(target error) bool { return target == e.Kind }

// SignInMode chooses how a person signs in.
type SignInMode int

const (
	// SignInAuto prefers interactive browser sign-in and falls back to device code.
	SignInAuto SignInMode = iota
	// SignInDeviceCode forces the device-code flow (no browser on this machine).
	SignInDeviceCode
)

// Prompt is what a person needs to finish signing in.
type Prompt struct {
	BrowserURL              string
	VerificationURI         string
	VerificationURIComplete string
	UserCode                string
	ExpiresAt               time.Time
}

// Token is an access token for the server, held in memory only.
type Token struct {
	AccessToken string
	ExpiresAt   time.Time
	// User is a display name for the person (never used to decide anything).
	User string
	// SessionExpiresAt is when silent renewal stops working (zero: unknown).
	SessionExpiresAt time.Time
}

// ErrSignInRequired is returned by SignIn.Token when there is no session or
// its refresh was refused: a person must sign in again.
var ErrSignInRequired = errors.New("sign-in required")

// SignIn is one server's sign-in session (what auth/signin offers).
type SignIn interface {
	// SignIn runs an interactive flow, calling prompt with what to show.
	SignIn(ctx context.Context, mode SignInMode, prompt func(Prompt)) error
	// Token returns a valid access token, refreshing silently, or
	// ErrSignInRequired.
	Token(ctx context.Context) (Token, error)
	// Logout forgets every token.
	Logout()
}

// NewSignIn makes a sign-in session for the provider a server's config names.
type NewSignIn func(cfg api.Config) (SignIn, error)

// TunnelConfig is everything a tunnel needs. PrivateKey lives in memory only.
type TunnelConfig struct {
	Interface     string
	PrivateKey    wgtypes.Key
	Address       netip.Prefix
	PeerPublicKey wgtypes.Key
	Endpoint      string
	Routes        []netip.Prefix
	DNSServers    []netip.Addr
	SearchDomains []string
	MatchDomains  []string
	MTU           int
	Keepalive     time.Duration
	// Standby are the server's other replicas (none with one server).
	Standby []StandbyPeer
}

// TunnelStats is the live state of the tunnel's one peer.
type TunnelStats struct {
	LatestHandshake time.Time // zero: never
	RxBytes         int64
	TxBytes         int64
}

// Tunnel is one running tunnel (TUN device, address, routes, DNS).
type Tunnel interface {
	// Reconfigure applies a new config (new key, new peer) without tearing
	// the interface down, so open connections survive a key rotation.
	Reconfigure(ctx context.Context, cfg TunnelConfig) error
	Stats() (TunnelStats, error)
	// Kick starts a handshake now instead of waiting for traffic.
	Kick() error
	// Rehandshake sends a new handshake initiation now, even while a
	// session is live: a LatestHandshake newer than the call proves, within
	// one round trip, that packets still flow.
	Rehandshake() error
	// Close removes the interface, routes and DNS.
	Close() error
}

// OutgoingNotifier is a Tunnel that can say when packets start to go out
// (optional). With it the watch reads the counters only every Tick while
// nothing is being sent, instead of every Poll: each timer costs several
// thread wake-ups in Go's runtime, so a connected, idle laptop wakes the
// daemon about a third as often (BenchmarkIdleCost).
type OutgoingNotifier interface {
	// Outgoing returns a channel that receives once when the next packet
	// goes out through the tunnel; each call arms it again.
	Outgoing() <-chan struct{}
}

// Tunnels brings tunnels up.
type Tunnels interface {
	Up(ctx context.Context, cfg TunnelConfig) (Tunnel, error)
}

// Clock is time, injectable for tests. Now carries a monotonic reading; Wall
// is the wall clock only. A wall clock that moves much more than the monotonic
// one means the machine slept.
type Clock interface {
	Now() time.Time
	Wall() time.Time
	After(d time.Duration) <-chan time.Time
}

// SystemClock is the real clock.
type SystemClock struct{}

func (SystemClock) Now() time.Time                         { return time.Now() }
func (SystemClock) Wall() time.Time                        { return time.Now().Round(0) }
func (SystemClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// Event is a signal from the OS that the connection may be dead.
type Event int

const (
	EventWake          Event = iota + 1 // the machine resumed from sleep
	EventNetworkChange                  // links or routes changed
)

func (e Event) String() string {
	switch e {
	case EventWake:
		return "woke from sleep"
	case EventNetworkChange:
		return "network changed"
	}
	return "event"
}
