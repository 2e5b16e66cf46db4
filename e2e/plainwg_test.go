//go:build linux

package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ghostwire/ghostwire/e2e/topo"
)

// Plain WireGuard baseline between the laptop and node 1: two stock
// wireguard-go devices configured with `wg`, on addresses from the second
// cluster's tunnel range (unused in a one-cluster topology).
const (
	plainLaptopAddr = "100.85.255.1"
	plainNodeAddr   = "100.85.255.2"
	plainPort       = 51821
)

// startPlainWireGuard links laptop and node 1 with plain wireguard-go and
// returns the node's tunnel address and the two wireguard-go processes
// (laptop, node).
func startPlainWireGuard(t testing.TB, tp *topo.Topology) (string, [2]*topo.Proc) {
	t.Helper()
	c := tp.Clusters[0]
	lif, nif := "gwe"+tp.Suffix+"p", "gwe"+tp.Suffix+"q"
	procs := [2]*topo.Proc{startStockWireGuard(t, tp, tp.Laptop, lif), startStockWireGuard(t, tp, c.Node, nif)}
	key := func(ns *topo.NS, name string) (privFile, pub string) {
		priv := strings.TrimSpace(sh(t, ns, "wg", "genkey"))
		privFile = filepath.Join(tp.Dir, name+".key")
		if err := os.WriteFile(privFile, []byte(priv+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		return privFile, strings.TrimSpace(sh(t, ns, "sh", "-c", "wg pubkey < "+privFile))
	}
	lpriv, lpub := key(tp.Laptop, "plain-laptop")
	npriv, npub := key(c.Node, "plain-node")
	sh(t, c.Node, "wg", "set", nif, "private-key", npriv, "listen-port", fmt.Sprint(plainPort),
		"peer", lpub, "allowed-ips", plainLaptopAddr+"/32")
	sh(t, tp.Laptop, "wg", "set", lif, "private-key", lpriv,
		"peer", npub, "endpoint", fmt.Sprintf("%s:%d", c.NodePublic, plainPort), "allowed-ips", plainNodeAddr+"/32")
	sh(t, c.Node, "ip", "addr", "add", plainNodeAddr+"/30", "dev", nif)
	sh(t, c.Node, "ip", "link", "set", nif, "mtu", "1420", "up")
	sh(t, tp.Laptop, "ip", "addr", "add", plainLaptopAddr+"/30", "dev", lif)
	sh(t, tp.Laptop, "ip", "link", "set", lif, "mtu", "1420", "up")
	sh(t, tp.Laptop, "ping", "-c", "1", "-W", "5", plainNodeAddr)
	return plainNodeAddr, procs
}

// iperfRun is one iperf3 measurement.
type iperfRun struct {
	bps   float64 // received, bits per second
	bytes float64 // received
}

// iperf3 measures TCP throughput from the laptop to server (an iperf3 -s
// running on node 1) for secs seconds; with cpu >= 0 the client runs on
// that core only.
func iperf3(t testing.TB, tp *topo.Topology, server string, secs, cpu int) iperfRun {
	t.Helper()
	args := []string{"iperf3", "-c", server, "-t", fmt.Sprint(secs), "-J", "--connect-timeout", "5000"}
	if cpu >= 0 {
		args = append([]string{"taskset", "--cpu-list", fmt.Sprint(cpu)}, args...)
	}
	out, err := tp.Laptop.Run(args[0], args[1:]...)
	if err != nil {
		t.Fatalf("iperf3 to %s: %v", server, err)
	}
	var r struct {
		End struct {
			SumReceived struct {
				BitsPerSecond float64 `json:"bits_per_second"`
				Bytes         float64 `json:"bytes"`
			} `json:"sum_received"`
		} `json:"end"`
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil || r.End.SumReceived.BitsPerSecond == 0 {
		t.Fatalf("iperf3 to %s: unreadable result (%v):\n%s", server, err, out)
	}
	return iperfRun{bps: r.End.SumReceived.BitsPerSecond, bytes: r.End.SumReceived.Bytes}
}

// startIperfServer runs iperf3 -s on node 1 and waits for it.
func startIperfServer(t testing.TB, tp *topo.Topology) *topo.Proc {
	t.Helper()
	c := tp.Clusters[0]
	p, err := tp.Start(c.Node, "iperf3-server", nil, "iperf3", "-s", "-p", "5201")
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		if out, _ := c.Node.Run("ss", "-ltn", "sport", "= :5201"); strings.Contains(out, "5201") {
			return p
		}
		if time.Now().After(deadline) {
			t.Fatalf("iperf3 server did not start:\n%s", p.Tail(2000))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestPlainWireGuardBaseline checks the baseline the throughput benchmark
// compares against: two stock wireguard-go devices pass traffic.
func TestPlainWireGuardBaseline(t *testing.T) {
	t.Parallel() // each test has its own namespaces, names and sockets
	tp := newTopology(t, 1)
	addr, _ := startPlainWireGuard(t, tp)
	startIperfServer(t, tp)
	run := iperf3(t, tp, addr, 1, -1)
	t.Logf("plain wireguard-go laptop → node: %.2f Gbit/s", run.bps/1e9)
}
