package cli

// The CLI against a scripted daemon over a real unix socket: what a person
// sees and which exit code each outcome gives. The daemon's real behaviour is
// covered in app/daemon and in system_linux_test.go.

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ghostwire/ghostwire/app/localapi"
)

type scripted struct {
	localapi.Broadcaster
	mu    sync.Mutex
	prof  localapi.Profile
	seq   uint64
	downs []localapi.ProfileRequest
}

func (s *scripted) Status() localapi.Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := localapi.Status{DaemonVersion: "test", Seq: s.seq}
	if s.prof.Name != "" {
		st.Profiles = []localapi.Profile{s.prof}
	}
	return st
}

func (s *scripted) set(fn func(p *localapi.Profile)) {
	s.mu.Lock()
	fn(&s.prof)
	s.seq++
	s.mu.Unlock()
	s.Publish(s.Status())
}

// Up plays a script chosen by the server URL.
func (s *scripted) Up(ctx context.Context, req localapi.UpRequest) error {
	if strings.Contains(req.Server, "bad") {
		return localapi.Errorf(localapi.CodeBadRequest, "the server URL %q must start with https://", req.Server)
	}
	s.set(func(p *localapi.Profile) {
		*p = localapi.Profile{Name: "default", Server: req.Server, State: localapi.StateRegistering}
	})
	go func() {
		time.Sleep(20 * time.Millisecond)
		s.set(func(p *localapi.Profile) {
			p.State = localapi.StateSigningIn
			p.SignIn = &localapi.SignInPrompt{VerificationURI: "https://idp.test/device", UserCode: "WXYZ-2345", Seq: 1}
		})
		time.Sleep(20 * time.Millisecond)
		s.set(func(p *localapi.Profile) {
			p.SignIn = nil
			switch {
			case strings.Contains(req.Server, "forbidden"):
				p.State, p.ErrorCode, p.Reason = localapi.StateError, localapi.CodeForbidden, "your account is not in the group allowed to use this VPN (ask your admin)"
			case strings.Contains(req.Server, "expired"):
				p.State, p.ErrorCode, p.Reason = localapi.StateNeedsSignIn, localapi.CodeSignIn, "your sign-in has expired: run `ghostwire login`"
			case strings.Contains(req.Server, "down"):
				p.State, p.ErrorCode, p.Reason = localapi.StateError, localapi.CodeUnavailable, "cannot reach the ghostwire server"
			case strings.Contains(req.Server, "overlap"):
				p.State, p.ErrorCode, p.Reason = localapi.StateError, localapi.CodeConflict, `profile "default" overlaps profile "prod"`
			case strings.Contains(req.Server, "slow"):
				p.State = localapi.StateSigningIn // waits for Ctrl-C
				p.SignIn = &localapi.SignInPrompt{VerificationURI: "https://idp.test/device", UserCode: "WXYZ-2345", Seq: 1}
			default:
				now := time.Now()
				p.State, p.User, p.Interface, p.Address = localapi.StateConnected, "ada@example.com", "gw0", "100.83.0.2/32"
				p.Routes, p.DNSServers = []string{"10.203.96.0/20"}, []string{"10.203.96.10"}
				p.SearchDomains, p.MatchDomains = []string{"svc.cluster.local"}, []string{"cluster.local"}
				p.LatestHandshake, p.RxBytes, p.TxBytes = &now, 2048, 4096
			}
		})
	}()
	return nil
}

func (s *scripted) Down(ctx context.Context, req localapi.ProfileRequest) error {
	if req.Profile == "nope" {
		return localapi.Errorf(localapi.CodeNotFound, "there is no profile %q", req.Profile)
	}
	s.mu.Lock()
	s.downs = append(s.downs, req)
	s.mu.Unlock()
	s.set(func(p *localapi.Profile) { p.State, p.SignIn = localapi.StateDisconnected, nil })
	return nil
}
func (s *scripted) Login(ctx context.Context, req localapi.ProfileRequest) error {
	s.set(func(p *localapi.Profile) { p.State = localapi.StateSigningIn })
	go s.set(func(p *localapi.Profile) { p.State, p.User = localapi.StateDisconnected, "ada@example.com" })
	return nil
}
func (s *scripted) Logout(ctx context.Context, req localapi.ProfileRequest) error { return nil }
func (s *scripted) Extend(ctx context.Context, req localapi.ProfileRequest) error { return nil }
func (s *scripted) Remove(ctx context.Context, req localapi.ProfileRequest) error {
	s.mu.Lock()
	if req.Profile == "" || req.Profile != s.prof.Name {
		s.mu.Unlock()
		return localapi.Errorf(localapi.CodeNotFound, "there is no profile %q", req.Profile)
	}
	s.prof = localapi.Profile{}
	s.seq++
	s.mu.Unlock()
	return nil
}

func serve(t *testing.T) (*scripted, string) {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "gw.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	b := &scripted{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = localapi.Serve(ctx, l, b, nil); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return b, sock
}

func runCLI(t *testing.T, sock string, args ...string) (string, int) {
	t.Helper()
	var out bytes.Buffer
	app := &App{Version: "test"}
	code := app.Run(context.Background(), append([]string{"--socket", sock}, args...), &out, &out)
	return out.String(), code
}

func TestUpOutcomesAndExitCodes(t *testing.T) {
	_, sock := serve(t)
	for _, c := range []struct {
		server string
		code   int
		want   []string
	}{
		{"https://vpn.test", ExitOK, []string{"enter the code", "WXYZ-2345", "Connected to https://vpn.test as ada@example.com", "100.83.0.2/32", "10.203.96.0/20", "cluster.local"}},
		{"https://forbidden.test", ExitForbidden, []string{"WXYZ-2345", "ask your admin"}},
		{"https://expired.test", ExitSignIn, []string{"ghostwire login"}},
		{"https://down.test", ExitUnreachable, []string{"cannot reach"}},
		{"https://overlap.test", ExitConflict, []string{`"prod"`}},
		{"http://bad.test", ExitUsage, []string{"use https"}},
		{"https://vpn.test:99999", ExitUsage, []string{"port"}},
		{"https://vpn.test/vpn/path", ExitUsage, []string{"has a path"}},
	} {
		out, code := runCLI(t, sock, "up", c.server, "--no-browser")
		if code != c.code {
			t.Errorf("up %s: exit %d, want %d\n%s", c.server, code, c.code, out)
		}
		for _, w := range c.want {
			if !strings.Contains(out, w) {
				t.Errorf("up %s: output lacks %q:\n%s", c.server, w, out)
			}
		}
	}
}

func TestStatusDownLoginAndErrors(t *testing.T) {
	_, sock := serve(t)
	out, code := runCLI(t, sock, "status")
	if code != 0 || !strings.Contains(out, "No profile yet") {
		t.Fatalf("empty status: %d %s", code, out)
	}
	if _, code := runCLI(t, sock, "up", "https://vpn.test"); code != 0 {
		t.Fatal("up failed")
	}
	out, code = runCLI(t, sock, "status")
	for _, w := range []string{"default: connected", "ada@example.com", "latest handshake", "2.0 KiB received, 4.0 KiB sent", "svc.cluster.local"} {
		if code != 0 || !strings.Contains(out, w) {
			t.Fatalf("status lacks %q (exit %d):\n%s", w, code, out)
		}
	}
	out, code = runCLI(t, sock, "status", "--json")
	var st localapi.Status
	if code != 0 || json.Unmarshal([]byte(out), &st) != nil || st.Profiles[0].Address != "100.83.0.2/32" {
		t.Fatalf("status --json: %d %s", code, out)
	}
	if _, code := runCLI(t, sock, "status", "--profile", "nope"); code != ExitNotFound {
		t.Fatalf("status of unknown profile: exit %d", code)
	}
	if out, code := runCLI(t, sock, "down", "--profile", "nope"); code != ExitNotFound || !strings.Contains(out, "no profile") {
		t.Fatalf("down unknown: %d %s", code, out)
	}
	if out, code := runCLI(t, sock, "down"); code != 0 || !strings.Contains(out, "default: disconnected") {
		t.Fatalf("down: %d %s", code, out)
	}
	if out, code := runCLI(t, sock, "login"); code != 0 || !strings.Contains(out, "Signed in to https://vpn.test as ada@example.com") {
		t.Fatalf("login: %d %s", code, out)
	}
	if _, code := runCLI(t, sock, "up", "--nonsense"); code != ExitUsage {
		t.Fatalf("unknown flag: exit %d", code)
	}
	if _, code := runCLI(t, sock, "up", "a", "b"); code != ExitUsage {
		t.Fatalf("two servers: exit %d", code)
	}
	if _, code := runCLI(t, sock, "up", "https://x", "--ca-file", "/nonexistent.pem"); code != ExitUsage {
		t.Fatalf("missing CA file: exit %d", code)
	}
}

func TestNoDaemon(t *testing.T) {
	out, code := runCLI(t, filepath.Join(t.TempDir(), "none.sock"), "status")
	if code != ExitNoDaemon || !strings.Contains(out, "not running") {
		t.Fatalf("exit %d: %s", code, out)
	}
}

func TestTrayMissingIsClear(t *testing.T) {
	out, code := runCLI(t, "/nonexistent", "tray")
	if code != ExitUnsupported || !strings.Contains(out, "not part of this build") {
		t.Fatalf("exit %d: %s", code, out)
	}
}
