//go:build linux

package e2e

import (
	"strings"
	"testing"

	"github.com/ghostwire/ghostwire/e2e/topo"
)

// TestTopology checks the world the scenarios stand on, without ghostwire:
// the cluster's services answer inside the cluster, the cluster CoreDNS serves
// cluster.local, the coredns-custom override and forwards the rest, and the
// laptop cannot reach the cluster at all (only the tunnel will make it).
func TestTopology(t *testing.T) {
	t.Parallel() // each test has its own namespaces, names and sockets
	tp := newTopology(t, 1)
	c := tp.Clusters[0]

	out := sh(t, c.Cluster, "curl", "-sS", "--max-time", "5", "http://prometheus.monitoring.svc.cluster.local/metrics")
	if !strings.Contains(out, `gwe_cluster_info{cluster="c1"} 1`) {
		t.Fatalf("prometheus inside the cluster answered %q", out)
	}
	// The AKS coredns-custom override: inside, the ingress hostname is the
	// ingress' cluster IP; on the internet it is a public address.
	if got := strings.Fields(sh(t, c.Cluster, "getent", "ahostsv4", c.IngressHost)); len(got) == 0 || got[0] != c.Ingress.String() {
		t.Fatalf("inside the cluster %s resolves to %v, want %s (coredns-custom override)", c.IngressHost, got, c.Ingress)
	}
	if got := strings.Fields(sh(t, tp.Laptop, "getent", "ahostsv4", c.IngressHost)); len(got) == 0 || got[0] == c.Ingress.String() {
		t.Fatalf("from the laptop %s resolves to %v, want its public address", c.IngressHost, got)
	}
	if got := strings.Fields(sh(t, c.Cluster, "getent", "ahostsv4", "www.example.org")); len(got) == 0 || got[0] != "192.0.2.80" {
		t.Fatalf("cluster CoreDNS forwarding: www.example.org → %v, want 192.0.2.80", got)
	}
	if got := strings.Fields(sh(t, tp.Laptop, "getent", "ahostsv4", "www.example.org")); len(got) == 0 || got[0] != "192.0.2.80" {
		t.Fatalf("laptop's own DNS: www.example.org → %v, want 192.0.2.80", got)
	}
	if got := strings.Fields(sh(t, tp.Laptop, "getent", "ahostsv4", "printer.home.example.org")); len(got) == 0 || got[0] != topo.HomePrinter.String() {
		t.Fatalf("laptop's own DNS: printer.home.example.org → %v, want %s", got, topo.HomePrinter)
	}
	if out, err := c.Cluster.Run("getent", "hosts", "printer.home.example.org"); err == nil {
		t.Fatalf("the cluster resolves the laptop's home names (%q): the acl does not hold", out)
	}
	if out, err := tp.Laptop.Run("curl", "-sS", "--max-time", "2", "http://"+c.Prometheus.String()+"/metrics"); err == nil {
		t.Fatalf("the laptop reaches the cluster without a tunnel (%q): the topology leaks", out)
	}
	if _, err := tp.Laptop.Run("getent", "hosts", "prometheus.monitoring.svc.cluster.local"); err == nil {
		t.Fatalf("the laptop resolves cluster names without a tunnel")
	}
}
