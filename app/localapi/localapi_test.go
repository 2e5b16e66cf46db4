package localapi

import (
	"context"
	"errors"
	"net"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// scripted is a Backend whose state changes when called, enough to exercise
// the protocol; the real daemon is tested in app/daemon.
type scripted struct {
	Broadcaster
	mu  sync.Mutex
	st  Status
	ups []UpRequest
}

func (s *scripted) Status() Status { s.mu.Lock(); defer s.mu.Unlock(); return s.st }

func (s *scripted) set(p Profile) {
	s.mu.Lock()
	s.st.Seq++
	s.st.Profiles = []Profile{p}
	st := s.st
	s.mu.Unlock()
	s.Publish(st)
}

func (s *scripted) Up(_ context.Context, r UpRequest) error {
	if r.Server == "" {
		return Errorf(CodeBadRequest, "give the server URL: ghostwire up https://vpn.example.com")
	}
	s.mu.Lock()
	s.ups = append(s.ups, r)
	s.mu.Unlock()
	s.set(Profile{Name: "default", Server: r.Server, State: StateSigningIn})
	return nil
}
func (s *scripted) Down(context.Context, ProfileRequest) error {
	s.set(Profile{Name: "default", State: StateDisconnected})
	return nil
}
func (s *scripted) Login(context.Context, ProfileRequest) error  { return errors.New("boom") }
func (s *scripted) Logout(context.Context, ProfileRequest) error { return nil }
func (s *scripted) Remove(context.Context, ProfileRequest) error {
	s.mu.Lock()
	s.st.Profiles = nil
	s.mu.Unlock()
	return nil
}
func (s *scripted) Extend(context.Context, ProfileRequest) error {
	return Errorf(CodeNotFound, "no profile named %q", "x")
}

func serve(t *testing.T, b Backend) *Client {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "gw.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, l, b, nil) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return NewClient(sock)
}

func TestCallsAndErrors(t *testing.T) {
	b := &scripted{st: Status{DaemonVersion: "test"}}
	c := serve(t, b)
	ctx := context.Background()

	st, err := c.Up(ctx, UpRequest{Server: "https://vpn.example.com", DeviceCode: true})
	if err != nil {
		t.Fatalf("Up: %v", err)
	}
	if p, ok := st.Profile("default"); !ok || p.State != StateSigningIn {
		t.Fatalf("Up answered %+v, want the signing-in profile", st)
	}
	if len(b.ups) != 1 || !b.ups[0].DeviceCode {
		t.Fatalf("backend saw %+v", b.ups)
	}

	_, err = c.Up(ctx, UpRequest{})
	if CodeOf(err) != CodeBadRequest || err.Error() != "give the server URL: ghostwire up https://vpn.example.com" {
		t.Fatalf("Up without server: %v (code %q)", err, CodeOf(err))
	}
	if _, err := c.Extend(ctx, ProfileRequest{Profile: "x"}); CodeOf(err) != CodeNotFound {
		t.Fatalf("Extend: %v", err)
	}
	if _, err := c.Login(ctx, ProfileRequest{}); CodeOf(err) != CodeInternal || err.Error() != "boom" {
		t.Fatalf("Login: %v", err)
	}
}

func TestWatchStreamsChanges(t *testing.T) {
	b := &scripted{st: Status{DaemonVersion: "test"}}
	c := serve(t, b)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	got := make(chan Status, 16)
	go func() {
		_ = c.Watch(ctx, func(s Status) error { got <- s; return nil })
	}()
	first := <-got
	if first.DaemonVersion != "test" || len(first.Profiles) != 0 {
		t.Fatalf("first status %+v", first)
	}
	if _, err := c.Up(ctx, UpRequest{Server: "https://a"}); err != nil {
		t.Fatal(err)
	}
	for {
		select {
		case s := <-got:
			if p, ok := s.Profile("default"); ok && p.State == StateSigningIn {
				return
			}
		case <-ctx.Done():
			t.Fatal("watch never showed the signing-in state")
		}
	}
}

func TestNoDaemon(t *testing.T) {
	c := NewClient(filepath.Join(t.TempDir(), "absent.sock"))
	_, err := c.Status(context.Background())
	if CodeOf(err) != CodeNoDaemon {
		t.Fatalf("want no_daemon, got %v", err)
	}
}

func TestBroadcasterKeepsNewest(t *testing.T) {
	var b Broadcaster
	ch, stop := b.Subscribe()
	for i := uint64(1); i <= 5; i++ {
		b.Publish(Status{Seq: i})
	}
	if s := <-ch; s.Seq != 5 {
		t.Fatalf("slow reader got seq %d, want the newest (5)", s.Seq)
	}
	stop()
	stop()                    // idempotent
	b.Publish(Status{Seq: 6}) // no subscriber left: must not block or panic
	if _, ok := <-ch; ok {
		t.Fatal("channel not closed after stop")
	}
}

func TestRejectsUnknownFields(t *testing.T) {
	b := &scripted{}
	c := serve(t, b)
	var out Status
	err := c.do(context.Background(), "POST", pathUp, map[string]any{"server": "https://a", "insecure": true}, &out)
	if CodeOf(err) != CodeBadRequest {
		t.Fatalf("unknown field accepted: %v", err)
	}
}
