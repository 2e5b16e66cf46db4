package daemon

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/windows"

	"github.com/ghostwire/ghostwire/app/localapi"
	"github.com/ghostwire/ghostwire/app/localapi/winpipe"
	"github.com/ghostwire/ghostwire/internal/wintest"
)

// These run under Wine in `make test-windows` and natively on the hosted
// Windows runner: the local API over the daemon's named pipe, the caller
// identified from its token and authorized, a squatted name refused, and
// the state directory's ACL.

// stubBackend answers the local API with a fixed status and records calls.
type stubBackend struct {
	mu    sync.Mutex
	calls []string
	bc    localapi.Broadcaster
}

func (b *stubBackend) Status() localapi.Status {
	return localapi.Status{DaemonVersion: "test", Profiles: []localapi.Profile{{Name: "default", State: localapi.StateDisconnected}}}
}
func (b *stubBackend) Subscribe() (<-chan localapi.Status, func()) { return b.bc.Subscribe() }
func (b *stubBackend) record(s string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.calls = append(b.calls, s)
	return nil
}
func (b *stubBackend) Up(_ context.Context, r localapi.UpRequest) error {
	return b.record("up " + r.Server)
}
func (b *stubBackend) Down(context.Context, localapi.ProfileRequest) error {
	return b.record("down")
}
func (b *stubBackend) Login(context.Context, localapi.ProfileRequest) error {
	return b.record("login")
}
func (b *stubBackend) Logout(context.Context, localapi.ProfileRequest) error {
	return b.record("logout")
}
func (b *stubBackend) Remove(context.Context, localapi.ProfileRequest) error {
	return b.record("remove")
}
func (b *stubBackend) Extend(context.Context, localapi.ProfileRequest) error {
	return b.record("extend")
}

func testPipe(t *testing.T) string {
	return fmt.Sprintf(`\\.\pipe\ProtectedPrefix\Administrators\ghostwire-test\%s-%d`, t.Name(), os.Getpid())
}

func serveStub(t *testing.T, name string, allow Authorizer) *stubBackend {
	t.Helper()
	l, err := Listen(name, 0)
	if err != nil {
		t.Fatal(err)
	}
	b := &stubBackend{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, l, b, allow, nil) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return b
}

func TestWindowsLocalAPIOverPipe(t *testing.T) {
	name := testPipe(t)
	var seen []Peer
	var mu sync.Mutex
	b := serveStub(t, name, func(p Peer) error {
		mu.Lock()
		seen = append(seen, p)
		mu.Unlock()
		return AllowRootAndGroup(p)
	})
	c := localapi.NewClient(name)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, err := c.Status(ctx)
	if err != nil || st.DaemonVersion != "test" {
		t.Fatalf("status over the pipe: %+v %v", st, err)
	}
	if _, err := c.Up(ctx, localapi.UpRequest{Server: "https://vpn.example.com"}); err != nil {
		t.Fatal(err)
	}
	// The Watch stream works over the pipe as over a unix socket.
	wctx, wcancel := context.WithTimeout(ctx, 5*time.Second)
	defer wcancel()
	got := make(chan localapi.Status, 1)
	go func() {
		_ = c.Watch(wctx, func(s localapi.Status) error { got <- s; return errors.New("enough") })
	}()
	select {
	case s := <-got:
		if len(s.Profiles) != 1 {
			t.Fatalf("watched %+v", s)
		}
	case <-wctx.Done():
		t.Fatal("no status from Watch")
	}
	b.mu.Lock()
	calls := b.calls
	b.mu.Unlock()
	if len(calls) != 1 || calls[0] != "up https://vpn.example.com" {
		t.Fatalf("backend calls %v", calls)
	}
	me, err := windows.GetCurrentProcessToken().GetTokenUser()
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(seen) == 0 || seen[0].SID != me.User.Sid.String() || seen[0].PID != os.Getpid() || seen[0].UID != -1 {
		t.Fatalf("the caller was identified as %+v, want SID %s pid %d", seen, me.User.Sid, os.Getpid())
	}
}

// A caller the authorizer refuses gets the daemon's reason, as a
// forbidden error the CLI turns into its exit code.
func TestWindowsLocalAPIRefusesStranger(t *testing.T) {
	name := testPipe(t)
	b := serveStub(t, name, func(p Peer) error {
		// As if the caller were a plain user: only its own SID and Users.
		p.Groups = []string{"S-1-1-0", "S-1-5-32-545"}
		return allowWindowsCaller(p, "S-1-5-21-1-2-3-1009")
	})
	c := localapi.NewClient(name)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := c.Down(ctx, localapi.ProfileRequest{All: true})
	var le *localapi.Error
	if !errors.As(err, &le) || le.Code != localapi.CodeForbidden || !strings.Contains(le.Message, "net localgroup ghostwire") {
		t.Fatalf("a stranger's down: %v", err)
	}
	if len(b.calls) != 0 {
		t.Fatalf("the refused call reached the backend: %v", b.calls)
	}
}

// A name already served (a squatter, or a second daemon) is refused at
// start, naming the process that holds it.
func TestWindowsListenSquatted(t *testing.T) {
	name := testPipe(t)
	squatter, err := winpipe.Listen(name, "D:P(A;;GA;;;WD)")
	if err != nil {
		t.Fatal(err)
	}
	defer squatter.Close()
	_, err = Listen(name, 0)
	if err == nil || !strings.Contains(err.Error(), "already served by process "+fmt.Sprint(os.Getpid())) {
		t.Fatalf("a squatted pipe: %v", err)
	}
	t.Log(err)
}

func TestWindowsStateDirACL(t *testing.T) {
	root, err := os.MkdirTemp("", "gwstate")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = os.Remove(filepath.Join(root, "ghostwire"))
		_ = os.Remove(filepath.Join(root, "squatted"))
		_ = os.Remove(root)
	})
	dir := filepath.Join(root, "ghostwire")
	for range 2 { // created, then found again
		if err := secureStateDir(dir); err != nil {
			t.Fatal(err)
		}
		if wintest.UnderWine() {
			t.Skip("Wine keeps no real file ACLs (it reports made-up ones and ignores SetNamedSecurityInfo): " +
				"the state directory's ACL and owner check are verified on the hosted Windows runner")
		}
		sd, err := windows.GetNamedSecurityInfo(dir, windows.SE_FILE_OBJECT, windows.DACL_SECURITY_INFORMATION)
		if err != nil {
			t.Fatal(err)
		}
		s := strings.ReplaceAll(sd.String(), ";GA;", ";FA;")
		if !strings.Contains(s, "D:P") || !strings.Contains(s, "(A;OICI;FA;;;SY)") || !strings.Contains(s, "(A;OICI;FA;;;BA)") ||
			strings.Contains(s, ";BU)") || strings.Contains(s, ";AU)") || strings.Contains(s, ";WD)") {
			t.Fatalf("state directory ACL %s: want SYSTEM and Administrators only, nothing inherited", s)
		}
	}
	// A directory a user created first is refused.
	squat := filepath.Join(root, "squatted")
	sd, _ := windows.SecurityDescriptorFromString("O:S-1-5-21-1-2-3-1001D:(A;OICI;FA;;;WD)")
	p, _ := windows.UTF16PtrFromString(squat)
	if err := windows.CreateDirectory(p, &windows.SecurityAttributes{Length: 24, SecurityDescriptor: sd}); err != nil {
		t.Skipf("cannot create a directory owned by another user here (%v): the owner check is covered on Windows", err)
	}
	owner, err := windows.GetNamedSecurityInfo(squat, windows.SE_FILE_OBJECT, windows.OWNER_SECURITY_INFORMATION)
	if o, _, _ := owner.Owner(); err != nil || o.String() != "S-1-5-21-1-2-3-1001" {
		t.Skipf("this system did not keep the foreign owner (%v): the owner check is covered on Windows", o)
	}
	err = secureStateDir(squat)
	if err == nil || !strings.Contains(err.Error(), "someone created it before ghostwire") {
		t.Fatalf("a squatted state directory: %v", err)
	}
}

// Not an administrator: the daemon refuses to start, saying how to get the rights.
func TestWindowsDaemonNotElevated(t *testing.T) {
	var err error
	wintest.AsPlainUser(t, func() { err = checkPrivileged() })
	if err == nil || !strings.Contains(err.Error(), "ghostwire daemon install") {
		t.Fatalf("checkPrivileged as a plain user: %v", err)
	}
	if err := checkPrivileged(); err != nil {
		t.Fatalf("this test runs as Administrator: %v", err)
	}
}
