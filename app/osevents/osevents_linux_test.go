package osevents

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ghostwire/ghostwire/app/engine"
	"github.com/ghostwire/ghostwire/internal/testenv"
	"github.com/godbus/dbus/v5"
)

func collect() (chan engine.Event, func(engine.Event)) {
	ch := make(chan engine.Event, 16)
	return ch, func(e engine.Event) { ch <- e }
}

func expect(t *testing.T, ch chan engine.Event, want engine.Event, within time.Duration) {
	t.Helper()
	select {
	case got := <-ch:
		if got != want {
			t.Fatalf("got %v, want %v", got, want)
		}
	case <-time.After(within):
		t.Fatalf("no %v within %s", want, within)
	}
}

// TestLogindResume runs a private D-Bus daemon and sends logind's
// PrepareForSleep signal on it, as logind does around a suspend.
func TestLogindResume(t *testing.T) {
	if _, err := exec.LookPath("dbus-daemon"); err != nil {
		t.Skip("dbus-daemon is not installed: run `make deps`")
	}
	sock := filepath.Join(t.TempDir(), "bus")
	addr := "unix:path=" + sock
	cmd := exec.Command("dbus-daemon", "--session", "--nofork", "--nopidfile", "--address="+addr)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	for i := 0; i < 100; i++ {
		if _, err := os.Stat(sock); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ch, fn := collect()
	// Netlink watching works everywhere as any user; only the bus is private.
	if err := Watch(ctx, Options{BusAddress: addr, Ignore: func(string) bool { return true }}, fn); err != nil {
		t.Fatal(err)
	}
	sender, err := dbus.Connect(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer sender.Close()
	emit := func(going bool) {
		if err := sender.Emit("/org/freedesktop/login1", "org.freedesktop.login1.Manager.PrepareForSleep", going); err != nil {
			t.Fatal(err)
		}
	}
	emit(true) // going to sleep: nothing to do yet
	emit(false)
	expect(t, ch, engine.EventWake, 5*time.Second)
	select {
	case e := <-ch:
		t.Fatalf("PrepareForSleep(true) must not count as a wake: got %v", e)
	case <-time.After(200 * time.Millisecond):
	}
}

// TestNetlinkChanges watches a namespace of our own and adds links in it.
func TestNetlinkChanges(t *testing.T) {
	testenv.RequireSystem(t)
	ns := fmt.Sprintf("gwd-ev-%d", os.Getpid())
	if out, err := exec.Command("ip", "netns", "add", ns).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add: %v %s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", ns).Run() })
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ch, fn := collect()
	err := Watch(ctx, Options{NetnsPath: "/run/netns/" + ns, Debounce: 100 * time.Millisecond, BusAddress: "unix:path=/nonexistent",
		Ignore: func(n string) bool { return strings.HasPrefix(n, "gwd") }}, fn)
	if err == nil || !strings.Contains(err.Error(), "logind") {
		t.Fatalf("a missing bus must be reported, got %v", err)
	}
	ip := func(args ...string) {
		if out, err := exec.Command("ip", append([]string{"-n", ns}, args...)...).CombinedOutput(); err != nil {
			t.Fatalf("ip %v: %v %s", args, err, out)
		}
	}
	// Our own tunnel's interface: not a network change.
	ip("link", "add", "gwd0", "type", "veth", "peer", "name", "gwd0p")
	ip("link", "set", "gwd0", "up")
	select {
	case e := <-ch:
		t.Fatalf("changes on our own interface must be ignored, got %v", e)
	case <-time.After(500 * time.Millisecond):
	}
	// Someone else's: a burst of changes is one event.
	ip("link", "add", "eth9", "type", "veth", "peer", "name", "eth9p")
	ip("addr", "add", "10.203.250.1/24", "dev", "eth9")
	ip("link", "set", "eth9", "up")
	expect(t, ch, engine.EventNetworkChange, 3*time.Second)
	select {
	case e := <-ch:
		t.Fatalf("a burst must be debounced into one event, got another %v", e)
	case <-time.After(400 * time.Millisecond):
	}
}

func TestIsResume(t *testing.T) {
	mk := func(body ...any) *dbus.Signal {
		return &dbus.Signal{Name: "org.freedesktop.login1.Manager.PrepareForSleep", Body: body}
	}
	if !isResume(mk(false)) || isResume(mk(true)) || isResume(mk("x")) || isResume(mk()) || isResume(nil) {
		t.Fatal("isResume misreads PrepareForSleep")
	}
}
