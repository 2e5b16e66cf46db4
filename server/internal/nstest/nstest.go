//go:build linux

// Package nstest makes network namespaces and veth links for the server's
// system tests, named with the server's prefix "gws" and removed by
// t.Cleanup even when the test fails.
package nstest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"os/exec"
	"runtime"
	"strings"
	"testing"

	"github.com/vishvananda/netns"
)

// Run runs a command and fails the test with its output on error.
func Run(t testing.TB, args ...string) string {
	t.Helper()
	out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// Pair creates two namespaces joined by a veth link with the given /30-style
// addresses (e.g. "10.201.7.1/30", "10.201.7.2/30") and returns their names.
func Pair(t testing.TB, addrA, addrB string) (nsA, nsB string) {
	t.Helper()
	id := rand.IntN(1 << 20)
	nsA, nsB = fmt.Sprintf("gws-a%05x", id), fmt.Sprintf("gws-b%05x", id)
	vA, vB := fmt.Sprintf("gwsv%05xa", id), fmt.Sprintf("gwsv%05xb", id)
	for _, ns := range []string{nsA, nsB} {
		Run(t, "ip", "netns", "add", ns)
		ns := ns
		t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", ns).Run() })
		Run(t, "ip", "-n", ns, "link", "set", "lo", "up")
	}
	Run(t, "ip", "link", "add", vA, "netns", nsA, "type", "veth", "peer", "name", vB, "netns", nsB)
	Run(t, "ip", "-n", nsA, "addr", "add", addrA, "dev", vA)
	Run(t, "ip", "-n", nsB, "addr", "add", addrB, "dev", vB)
	Run(t, "ip", "-n", nsA, "link", "set", vA, "up")
	Run(t, "ip", "-n", nsB, "link", "set", vB, "up")
	return nsA, nsB
}

// DialContext returns a dial function whose sockets live in namespace ns, for
// an http.Transport that talks to servers inside it.
func DialContext(t testing.TB, ns string) func(ctx context.Context, network, addr string) (net.Conn, error) {
	h, err := netns.GetFromName(ns)
	if err != nil {
		t.Fatalf("opening namespace %s: %v", ns, err)
	}
	t.Cleanup(func() { h.Close() })
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		type res struct {
			c   net.Conn
			err error
		}
		ch := make(chan res, 1)
		go func() {
			runtime.LockOSThread() // never unlocked: the thread dies with the goroutine
			if err := netns.Set(h); err != nil {
				ch <- res{nil, err}
				return
			}
			var d net.Dialer
			c, err := d.DialContext(ctx, network, addr)
			ch <- res{c, err}
		}()
		r := <-ch
		return r.c, r.err
	}
}
