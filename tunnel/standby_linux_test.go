package tunnel

import (
	"os"
	"testing"
	"time"

	"github.com/ghostwire/ghostwire/internal/wgpeer"
)

// Two replicas of one server (two in-process WireGuard peers serving the same
// cluster): the tunnel handshakes with both, carries traffic through the
// active one, and after it dies moves the routes to the standby in one device
// update; the cluster answers again at once, with the same key and address.
// Then the standby set changes (a replica restarted with a new key).
func TestStandbySystem(t *testing.T) {
	if os.Getenv("GWT_CHILD") != "" {
		t.Skip("not this child's test")
	}
	desktopRun(t, func(t *testing.T, h desktopHost) {
		a, err := wgpeer.Start(testLog(t))
		if err != nil {
			t.Fatal(err)
		}
		b, err := wgpeer.Start(testLog(t))
		if err != nil {
			t.Fatal(err)
		}
		defer b.Close()
		cfg := desktopConfig(t, h, a)
		if err := b.Allow(cfg.PrivateKey.Public(), wgpeer.ClientAddr); err != nil {
			t.Fatal(err)
		}
		cfg.Standby = []Peer{{PublicKey: b.PublicKey(), Endpoint: b.Endpoint(), Keepalive: 25 * time.Second}}
		tn, err := Up(t.Context(), cfg, testLog(t))
		if err != nil {
			t.Fatal(err)
		}
		defer tn.Close()
		url := "http://" + wgpeer.ServiceAddr.String() + "/"
		if got := httpGet(t, url); got != wgpeer.Body {
			t.Fatalf("through the active replica: %q", got)
		}
		// The standby has a session of its own, started at Up.
		waitPeerHandshake(t, tn, b.PublicKey())
		a.Close() // the active replica dies
		if err := tn.Activate(b.PublicKey()); err != nil {
			t.Fatal(err)
		}
		if tn.Active() != b.PublicKey() {
			t.Fatal("Activate did not make the standby active")
		}
		if !h.routed(t, tn.Name(), wgpeer.Range) {
			t.Fatalf("%s is no longer routed through %s", wgpeer.Range, tn.Name())
		}
		if got := httpGet(t, url); got != wgpeer.Body {
			t.Fatalf("through the standby after the move: %q", got)
		}
		if s, err := tn.Stats(); err != nil || s.RxBytes == 0 {
			t.Fatalf("Stats must now be the new active peer's: %+v %v", s, err)
		}
		// A replica comes back with a new key: it becomes the standby, the dead one goes.
		c, err := wgpeer.Start(testLog(t))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if err := c.Allow(cfg.PrivateKey.Public(), wgpeer.ClientAddr); err != nil {
			t.Fatal(err)
		}
		if err := tn.SetStandby([]Peer{{PublicKey: c.PublicKey(), Endpoint: c.Endpoint(), Keepalive: 25 * time.Second}}); err != nil {
			t.Fatal(err)
		}
		waitPeerHandshake(t, tn, c.PublicKey())
		st, err := tn.PeerStats()
		if err != nil {
			t.Fatal(err)
		}
		if _, dead := st[a.PublicKey()]; dead || len(st) != 2 {
			t.Fatalf("peers after SetStandby: %v", st)
		}
		if err := tn.Activate(c.PublicKey()); err != nil {
			t.Fatal(err)
		}
		if got := httpGet(t, url); got != wgpeer.Body {
			t.Fatalf("through the new replica: %q", got)
		}
	})
}
