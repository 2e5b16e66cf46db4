//go:build linux

// Package nstest makes network namespaces and veth links for the server's
// system tests, named with the server's prefix "gws" and removed by
// t.Cleanup even when the test fails.
package nstest

import (
	"fmt"
	"math/rand/v2"
	"os/exec"
	"strings"
	"testing"
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
