// Package testenv holds what tests across the project share to decide whether
// they can run: system tests need root, /dev/net/tun and network namespaces.
// They skip only where that is impossible, and say why.
package testenv

import (
	"os"
	"os/exec"
	"testing"
)

// RequireSystem skips t unless it can create TUN devices and network
// namespaces. Under -short it skips too: `make test` runs the fast unit pass
// with -short first, then the system pass without it.
func RequireSystem(t testing.TB, tools ...string) {
	t.Helper()
	if testing.Short() {
		t.Skip("system test (root, TUN, network namespaces): runs in the system pass of `make test`")
	}
	if os.Geteuid() != 0 {
		t.Skip("system test needs root (TUN devices, network namespaces): run `make test` as root, as CI does")
	}
	if _, err := os.Stat("/dev/net/tun"); err != nil {
		t.Skipf("system test needs /dev/net/tun: %v", err)
	}
	for _, tool := range append([]string{"ip"}, tools...) {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("system test needs %q on PATH: run `make deps` (it installs it): %v", tool, err)
		}
	}
}
