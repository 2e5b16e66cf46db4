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

// NS creates an empty namespace (loopback up) named gws-<tag><random>.
func NS(t testing.TB, tag string) string {
	t.Helper()
	ns := fmt.Sprintf("gws-%s%05x", tag, rand.IntN(1<<20))
	Run(t, "ip", "netns", "add", ns)
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", ns).Run() })
	Run(t, "ip", "-n", ns, "link", "set", "lo", "up")
	return ns
}

// Link joins two namespaces with a veth pair carrying addrA and addrB
// (prefixes such as "10.201.7.1/30").
func Link(t testing.TB, nsA, nsB, addrA, addrB string) {
	t.Helper()
	id := rand.IntN(1 << 20)
	vA, vB := fmt.Sprintf("gwsv%05xa", id), fmt.Sprintf("gwsv%05xb", id)
	Run(t, "ip", "link", "add", vA, "netns", nsA, "type", "veth", "peer", "name", vB, "netns", nsB)
	Run(t, "ip", "-n", nsA, "addr", "add", addrA, "dev", vA)
	Run(t, "ip", "-n", nsB, "addr", "add", addrB, "dev", vB)
	Run(t, "ip", "-n", nsA, "link", "set", vA, "up")
	Run(t, "ip", "-n", nsB, "link", "set", vB, "up")
}

// Pair creates two namespaces joined by a veth link with the given /30-style
// addresses (e.g. "10.201.7.1/30", "10.201.7.2/30") and returns their names.
func Pair(t testing.TB, addrA, addrB string) (nsA, nsB string) {
	t.Helper()
	nsA, nsB = NS(t, "a"), NS(t, "b")
	Link(t, nsA, nsB, addrA, addrB)
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
		return inNamespace(h, func() (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, addr)
		})
	}
}

// Listen opens a listener inside namespace ns (it stays there whichever
// thread accepts), for a server the test runs that a process in ns reaches.
func Listen(t testing.TB, ns, network, addr string) net.Listener {
	t.Helper()
	h, err := netns.GetFromName(ns)
	if err != nil {
		t.Fatalf("opening namespace %s: %v", ns, err)
	}
	defer h.Close()
	ln, err := inNamespace(h, func() (net.Listener, error) { return net.Listen(network, addr) })
	if err != nil {
		t.Fatalf("listening on %s in %s: %v", addr, ns, err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln
}

// inNamespace runs f on a fresh OS thread moved into namespace h: a socket
// keeps the namespace it was made in, whichever thread uses it later.
func inNamespace[T any](h netns.NsHandle, f func() (T, error)) (T, error) {
	type res struct {
		v   T
		err error
	}
	ch := make(chan res, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread dies with the goroutine
		if err := netns.Set(h); err != nil {
			var zero T
			ch <- res{zero, err}
			return
		}
		v, err := f()
		ch <- res{v, err}
	}()
	r := <-ch
	return r.v, r.err
}
