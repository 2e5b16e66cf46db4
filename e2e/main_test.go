//go:build linux

// Package e2e holds the whole-system tests: the real ghostwire-server, the dev
// OpenID provider, the ghostwire daemon and CLI, a real CoreDNS and stock
// WireGuard tools, wired together in network namespaces by e2e/topo.
//
// Run them with `make test-e2e` (root; it builds the binaries first), or
//
//	GWE_BIN_DIR=$PWD/bin GWE_COREDNS=$(go env GOPATH)/bin/coredns go test -count=1 ./e2e/...
package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ghostwire/ghostwire/e2e/helper"
	"github.com/ghostwire/ghostwire/e2e/topo"
	"github.com/ghostwire/ghostwire/internal/testenv"
)

func TestMain(m *testing.M) {
	helper.Main() // re-executed as a helper inside a namespace: never returns
	os.Exit(m.Run())
}

// findBins locates the programs: $GWE_BIN_DIR (default <repo>/bin) for the two
// ghostwire binaries, $GWE_COREDNS (default coredns on PATH, then
// $GOPATH/bin/coredns), and this test binary as the helper.
func findBins(t testing.TB) topo.Bins {
	t.Helper()
	dir := os.Getenv("GWE_BIN_DIR")
	if dir == "" {
		wd, _ := os.Getwd()
		dir = filepath.Join(filepath.Dir(wd), "bin")
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	b := topo.Bins{
		Server:  filepath.Join(dir, "ghostwire-server"),
		Client:  filepath.Join(dir, "ghostwire"),
		CoreDNS: os.Getenv("GWE_COREDNS"),
		Helper:  self,
	}
	if b.CoreDNS == "" {
		if p, err := exec.LookPath("coredns"); err == nil {
			b.CoreDNS = p
		} else if out, err := exec.Command("go", "env", "GOPATH").Output(); err == nil {
			b.CoreDNS = filepath.Join(strings.TrimSpace(string(out)), "bin", "coredns")
		}
	}
	if _, err := os.Stat(b.CoreDNS); err != nil {
		t.Fatalf("no CoreDNS at %q: run `make deps` (go install github.com/coredns/coredns@v1.15.0) or set GWE_COREDNS", b.CoreDNS)
	}
	return b
}

// requireBin fails the test when a ghostwire binary has not been built.
func requireBin(t testing.TB, path string) {
	t.Helper()
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("%s is missing: run `make build` first (or set GWE_BIN_DIR): %v", path, err)
	}
}

// newTopology builds a topology with the cluster services running, removed at
// the end of the test. On failure the tail of every process log is printed and
// the run directory is kept.
func newTopology(t testing.TB, clusters int) *topo.Topology {
	t.Helper()
	testenv.RequireSystem(t, "nft", "curl", "wg", "getent")
	bins := findBins(t)
	dir, err := os.MkdirTemp("", "gwe-e2e-")
	if err != nil {
		t.Fatal(err)
	}
	tp, err := topo.New(topo.Options{Dir: dir, Clusters: clusters, Bins: bins, Logf: t.Logf})
	if err != nil {
		os.RemoveAll(dir)
		t.Fatalf("build topology: %v", err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			var b strings.Builder
			tp.DumpLogs(&b, 8000)
			t.Logf("process logs (kept in %s):%s", tp.LogDir, b.String())
		}
		tp.Close()
		if t.Failed() || os.Getenv("GWE_KEEP_LOGS") != "" {
			t.Logf("run directory kept: %s", dir)
		} else {
			os.RemoveAll(dir)
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := tp.StartServices(ctx); err != nil {
		t.Fatalf("start cluster services: %v", err)
	}
	return tp
}

// sh runs a command inside ns and returns its output, failing the test with
// the command and its output when it fails.
func sh(t testing.TB, ns *topo.NS, name string, args ...string) string {
	t.Helper()
	out, err := ns.Run(name, args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}
