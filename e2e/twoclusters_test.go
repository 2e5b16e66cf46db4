//go:build linux

package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/ghostwire/ghostwire/e2e/topo"
)

// TestTwoClusters is scenario 6: two node/cluster pairs with different
// ranges and the same cluster domain (cluster.local, as every AKS cluster),
// two profiles up together; each reaches its own services, by address and
// by name.
func TestTwoClusters(t *testing.T) {
	t.Parallel() // each test has its own namespaces, names and sockets
	w := newWorld(t, 2)
	c1, c2 := w.Clusters[0], w.Clusters[1]
	w.up(t, c1, "c1", topo.UserDemo)
	w.up(t, c2, "c2", topo.UserDemo)

	w.curlOK(t, "http://"+c1.Prometheus.String()+"/metrics", `cluster="c1"`, 10*time.Second)
	w.curlOK(t, "http://"+c2.Prometheus.String()+"/metrics", `cluster="c2"`, 10*time.Second)
	// Both clusters answer cluster.local: a name only one of them has is
	// answered by that one; a name both have by the profile that came up
	// first.
	w.curlOK(t, "http://"+c1.OnlyHere()+"/metrics", `cluster="c1"`, 10*time.Second)
	w.curlOK(t, "http://"+c2.OnlyHere()+"/metrics", `cluster="c2"`, 10*time.Second)
	w.curlOK(t, "http://c2-only.monitoring/metrics", `cluster="c2"`, 10*time.Second) // through the search list
	w.curlOK(t, "http://prometheus.monitoring.svc.cluster.local/metrics", `cluster="c1"`, 10*time.Second)
	if got := w.resolve(t, "printer.home.example.org"); got != topo.HomePrinter.String() {
		t.Errorf("printer.home.example.org resolves to %s with two profiles up, want %s", got, topo.HomePrinter)
	}
	if n := len(w.serverPeers(t, c1)); n != 1 {
		t.Errorf("server c1 has %d peers, want 1", n)
	}
	if n := len(w.serverPeers(t, c2)); n != 1 {
		t.Errorf("server c2 has %d peers, want 1", n)
	}

	out, err := w.daemon.CLI(context.Background(), "status")
	t.Logf("ghostwire status (%v):\n%s", err, out)
	out, err = w.daemon.CLI(context.Background(), "down", "--all")
	if err != nil {
		t.Fatalf("ghostwire down --all: %v\n%s", err, out)
	}
	w.waitServerPeers(t, c1, 0, 5*time.Second)
	w.waitServerPeers(t, c2, 0, 5*time.Second)
	w.requireUntouched(t, "after down --all", 5*time.Second)
}
