package engine

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ghostwire/ghostwire/app/localapi"
	"github.com/ghostwire/ghostwire/server/api"
)

// answerAPI is the fake server with, while err is set, every call answered
// with err: what serverclient makes of the server's 503 unavailable (its
// sign-in provider's keys cannot be fetched) or 403 insufficient_scope.
type answerAPI struct {
	*fakeServer
	mu        sync.Mutex
	err       error
	registers int // refused registrations
}

func (a *answerAPI) answer() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.err
}
func (a *answerAPI) set(err error) { a.mu.Lock(); a.err = err; a.mu.Unlock() }
func (a *answerAPI) refused() int  { a.mu.Lock(); defer a.mu.Unlock(); return a.registers }

func (a *answerAPI) Register(ctx context.Context, token string, req api.RegisterRequest) (api.Peer, error) {
	if err := a.answer(); err != nil {
		a.mu.Lock()
		a.registers++
		a.mu.Unlock()
		return api.Peer{}, err
	}
	return a.fakeServer.Register(ctx, token, req)
}

func (a *answerAPI) Peer(ctx context.Context, token, key string) (api.Peer, error) {
	if err := a.answer(); err != nil {
		return api.Peer{}, err
	}
	return a.fakeServer.Peer(ctx, token, key)
}

func newAnswerRig(t *testing.T) (*rig, *answerAPI) {
	r := newRig(t)
	a := &answerAPI{fakeServer: r.srv}
	r.e = New(Config{Name: "work", Server: "https://vpn.test", Interface: "gwd0", DeviceName: "laptop",
		API: a, Tunnels: r.tuns, Clock: r.clock,
		NewSignIn: func(api.Config) (SignIn, error) { return r.signin, nil },
		OnChange:  r.record})
	t.Cleanup(r.e.Down)
	return r, a
}

// The server cannot check tokens because its sign-in provider is down (503
// unavailable): the engine keeps retrying with the token it has, never
// asks the person to sign in, and reconnects by itself when the provider is
// back (issue 10: a 401 "sign in again" sent every client into a loop).
func TestProviderOutageRetriesWithoutSignIn(t *testing.T) {
	r, a := newAnswerRig(t)
	r.connect()
	old := r.key()
	prompts := r.signin.prompts
	r.resetHistory()
	a.set(&ServerError{Kind: ErrUnreachable, Message: "the server cannot check your sign-in right now because it cannot fetch the sign-in provider's signing keys: try again in a minute (your sign-in is kept)"})
	r.srv.restart()
	// It cannot tell whether its peer is gone (the server cannot answer
	// either): it says why and keeps trying, for minutes.
	r.until("the outage shown", time.Second, func(p localapi.Profile) bool {
		return p.State == localapi.StateReconnecting && strings.Contains(p.Reason, "try again")
	})
	r.advance(5*time.Minute, 5*time.Second)
	if p := r.e.Profile(); p.State != localapi.StateReconnecting {
		t.Fatalf("during the outage: %s %q", p.State, p.Reason)
	}
	a.set(nil)
	r.until("reconnected", time.Second, func(p localapi.Profile) bool { return p.State == localapi.StateConnected && r.key() != old })
	for _, s := range r.history() {
		if s == localapi.StateNeedsSignIn || s == localapi.StateSigningIn || s == localapi.StateError {
			t.Fatalf("states %v", r.history())
		}
	}
	if r.signin.prompts != prompts {
		t.Fatal("the person was asked to sign in during the outage")
	}
}

// A token without the required scope (403 insufficient_scope): the engine
// stops and shows the server's message naming the scope; it does not loop
// registering or signing in.
func TestMissingScopeStopsWithTheMessage(t *testing.T) {
	r, a := newAnswerRig(t)
	r.connect()
	prompts := r.signin.prompts
	a.set(&ServerError{Kind: ErrForbidden, Message: "your access token does not carry the scope vpn.connect that this VPN requires, so signing in again will not help: ask your admin"})
	r.srv.restart()
	p := r.untilState(localapi.StateError)
	if p.ErrorCode != localapi.CodeForbidden || !strings.Contains(p.Reason, "vpn.connect") {
		t.Fatalf("%s %q %q", p.State, p.ErrorCode, p.Reason)
	}
	n := a.refused()
	r.advance(10*time.Minute, 5*time.Second)
	if a.refused() != n || r.signin.prompts != prompts || r.e.Profile().State != localapi.StateError {
		t.Fatalf("looped: %d more registrations, %d prompts, state %s", a.refused()-n, r.signin.prompts-prompts, r.e.Profile().State)
	}
}
