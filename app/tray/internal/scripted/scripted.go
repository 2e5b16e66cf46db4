// Package scripted is a localapi.Backend that moves its profiles through the
// engine's states on Up/Down like the daemon does, without a tunnel. The tray's
// desktop-bus test and its screenshot use it; the real daemon is exercised
// end-to-end in e2e/.
package scripted

import (
	"context"
	"sync"
	"time"

	"github.com/ghostwire/ghostwire/app/localapi"
)

// Backend is the scripted daemon.
type Backend struct {
	localapi.Broadcaster
	mu        sync.Mutex
	st        localapi.Status
	log       []string
	askSignIn bool
	signedIn  chan struct{}
}

// New returns a backend with one disconnected profile, "prod".
func New() *Backend {
	return NewWith(localapi.Profile{Name: "prod", Server: "https://vpn.example.test", State: localapi.StateDisconnected})
}

// NewWith returns a backend with the given profiles.
func NewWith(ps ...localapi.Profile) *Backend {
	return &Backend{st: localapi.Status{DaemonVersion: "0.0.0-scripted", Profiles: ps}, signedIn: make(chan struct{})}
}

// AskSignIn makes the next Up go through a device-code sign-in that waits for FinishSignIn.
func (b *Backend) AskSignIn(on bool) {
	b.mu.Lock()
	b.askSignIn = on
	b.mu.Unlock()
}

// FinishSignIn completes the pending sign-in.
func (b *Backend) FinishSignIn() { close(b.signedIn) }

// Calls lists the calls received, as "up:prod", "down:prod", ...
func (b *Backend) Calls() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.log...)
}

// Status implements localapi.Backend.
func (b *Backend) Status() localapi.Status {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := b.st
	s.Profiles = append([]localapi.Profile(nil), b.st.Profiles...)
	return s
}

func (b *Backend) set(name string, f func(*localapi.Profile)) {
	b.mu.Lock()
	for i := range b.st.Profiles {
		if b.st.Profiles[i].Name == name {
			f(&b.st.Profiles[i])
		}
	}
	b.st.Seq++
	b.mu.Unlock()
	b.Publish(b.Status())
}

func (b *Backend) record(c string) {
	b.mu.Lock()
	b.log = append(b.log, c)
	b.mu.Unlock()
}

func (b *Backend) has(name string) bool {
	_, ok := b.Status().Profile(name)
	return ok
}

// Up implements localapi.Backend: registering, then connected (after a sign-in when asked).
func (b *Backend) Up(_ context.Context, req localapi.UpRequest) error {
	b.record("up:" + req.Profile)
	if !b.has(req.Profile) {
		if req.Server == "" {
			return localapi.Errorf(localapi.CodeNotFound, "no profile %q: give its server URL", req.Profile)
		}
		b.mu.Lock()
		b.st.Profiles = append(b.st.Profiles, localapi.Profile{Name: req.Profile, Server: req.Server, State: localapi.StateDisconnected})
		b.mu.Unlock()
	}
	b.mu.Lock()
	ask := b.askSignIn
	b.askSignIn = false
	b.mu.Unlock()
	name := req.Profile
	go func() {
		if ask {
			for i := 0; i < 3; i++ { // the same prompt, several status updates
				b.set(name, func(p *localapi.Profile) {
					p.State = localapi.StateSigningIn
					p.SignIn = &localapi.SignInPrompt{VerificationURI: "https://login.example.test/device", UserCode: "ABCD-EFGH",
						ExpiresAt: time.Now().Add(15 * time.Minute), Seq: 1}
				})
				time.Sleep(50 * time.Millisecond)
			}
			<-b.signedIn
		}
		b.set(name, func(p *localapi.Profile) { p.State, p.SignIn = localapi.StateRegistering, nil })
		time.Sleep(100 * time.Millisecond)
		b.set(name, func(p *localapi.Profile) {
			p.State, p.User, p.Address = localapi.StateConnected, "alice@example.com", "100.64.0.7/32"
		})
	}()
	return nil
}

// Down implements localapi.Backend.
func (b *Backend) Down(_ context.Context, req localapi.ProfileRequest) error {
	b.record("down:" + req.Profile)
	b.mu.Lock()
	var names []string
	for _, p := range b.st.Profiles {
		if req.All || p.Name == req.Profile {
			names = append(names, p.Name)
		}
	}
	b.mu.Unlock()
	for _, n := range names {
		b.set(n, func(p *localapi.Profile) { p.State, p.User, p.Address = localapi.StateDisconnected, "", "" })
	}
	return nil
}

// Login implements localapi.Backend (recorded only).
func (b *Backend) Login(_ context.Context, req localapi.ProfileRequest) error {
	b.record("login:" + req.Profile)
	return nil
}

// Logout implements localapi.Backend (recorded only).
func (b *Backend) Logout(_ context.Context, req localapi.ProfileRequest) error {
	b.record("logout:" + req.Profile)
	return nil
}

// Extend implements localapi.Backend: the session ends 8 hours from now.
func (b *Backend) Extend(_ context.Context, req localapi.ProfileRequest) error {
	b.record("extend:" + req.Profile)
	end := time.Now().Add(8 * time.Hour)
	b.set(req.Profile, func(p *localapi.Profile) { p.SessionExpiresAt = &end })
	return nil
}

// Remove implements localapi.Backend: the profile goes.
func (b *Backend) Remove(_ context.Context, req localapi.ProfileRequest) error {
	b.record("remove:" + req.Profile)
	b.mu.Lock()
	for i, p := range b.st.Profiles {
		if p.Name == req.Profile {
			b.st.Profiles = append(b.st.Profiles[:i], b.st.Profiles[i+1:]...)
			break
		}
	}
	b.mu.Unlock()
	return nil
}

// SetSessionEnd sets when the named profile's sign-in session ends.
func (b *Backend) SetSessionEnd(name string, end time.Time) {
	b.set(name, func(p *localapi.Profile) { p.SessionExpiresAt = &end })
}
