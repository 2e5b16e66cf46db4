package tunnel

import (
	"bufio"
	"encoding/hex"
	"errors"
	"io/fs"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// A daemon that brought a tunnel up is killed with SIGKILL: nothing of its
// own runs to clean up. The kernel removes the TUN with the process, but the
// pinned route to the server, the rewritten resolv.conf and the stale UAPI
// socket stay. Recover, at the next start, undoes them from the journal.
func TestRecoverAfterKill9(t *testing.T) {
	if isChild(t) {
		cfg, _ := dnsClientConfig(t)
		cfg.Peer.Endpoint = netip.MustParseAddrPort("10.202.50.1:51820")
		cfg.Peer.AllowedIPs = append(cfg.Peer.AllowedIPs, netip.MustParsePrefix("10.202.0.0/16"))
		cfg.DNSMode = DNSResolvConf
		cfg.ResolvConf = os.Getenv("GWT_RESOLV")
		tn, err := Up(t.Context(), cfg, testLog(t))
		if err != nil {
			t.Fatal(err)
		}
		waitHandshake(t, tn)
		childCall(t, "up "+cfg.Interface)
		select {} // wait for SIGKILL
	}
	if inChildProcess() {
		t.Skip("not this child's test")
	}
	tp := newTopo(t)
	run(t, "ip", "-n", tp.client, "route", "add", "default", "via", "10.202.1.2")
	priv := newKey(t)
	p := tp.startPeer(t, priv.Public())
	dir := t.TempDir()
	resolv := filepath.Join(dir, "resolv.conf")
	if err := os.WriteFile(resolv, []byte(origResolvConf), 0o644); err != nil {
		t.Fatal(err)
	}
	journalDir := filepath.Join(dir, "journal")

	exe, _ := os.Executable()
	cmd := exec.Command("ip", "netns", "exec", tp.client, exe, "-test.run=^TestRecoverAfterKill9$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), "GWT_CHILD="+t.Name(), "GWT_ID="+tp.id, "GWT_KEY="+priv.hex(),
		"GWT_PEER="+hex.EncodeToString(p.pub[:]), "GWT_JOURNAL="+journalDir, "GWT_RESOLV="+resolv)
	cmd.Stderr = testWriter{t}
	out, _ := cmd.StdoutPipe()
	if _, err := cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL); _ = cmd.Wait() })
	sc := bufio.NewScanner(out)
	iface := ""
	for iface == "" && sc.Scan() {
		t.Log("client: " + sc.Text())
		if rest, ok := strings.CutPrefix(sc.Text(), "GWT:up "); ok {
			iface = rest
		}
	}
	if iface == "" {
		t.Fatal("the child did not bring the tunnel up")
	}
	if b, _ := os.ReadFile(resolv); string(b) == origResolvConf {
		t.Fatal("the child did not change resolv.conf")
	}
	if r := run(t, "ip", "-n", tp.client, "route", "show", "10.202.50.1"); !strings.Contains(r, "via 10.202.1.2") {
		t.Fatalf("no pinned route while up: %q", r)
	}

	// kill -9 the child (ip netns exec execs the test binary: same pid).
	if err := syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	deadline := time.Now().Add(5 * time.Second)
	for exec.Command("ip", "-n", tp.client, "link", "show", iface).Run() == nil && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if r := run(t, "ip", "-n", tp.client, "route", "show", "10.202.50.1"); r == "" {
		t.Fatal("expected the pinned route to survive the crash (else this test proves nothing)")
	}
	if b, _ := os.ReadFile(resolv); string(b) == origResolvConf {
		t.Fatal("expected resolv.conf to stay changed after the crash")
	}

	var err error
	inNS(t, tp.client, func() { err = Recover(journalDir, testLog(t)) })
	if err != nil {
		t.Fatalf("Recover: %v", err)
	}
	if b, _ := os.ReadFile(resolv); string(b) != origResolvConf {
		t.Fatalf("resolv.conf not restored byte for byte: %q", b)
	}
	if r := run(t, "ip", "-n", tp.client, "route", "show", "10.202.50.1"); r != "" {
		t.Fatalf("pinned route left after Recover: %q", r)
	}
	if r := run(t, "ip", "-n", tp.client, "route", "show", "default"); !strings.Contains(r, "via 10.202.1.2") {
		t.Fatalf("default route changed: %q", r)
	}
	if exec.Command("ip", "-n", tp.client, "link", "show", iface).Run() == nil {
		t.Fatal("interface left after Recover")
	}
	if _, err := os.Stat(uapiSocketPath(iface)); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("stale UAPI socket left: %v", err)
	}
	if left, _ := filepath.Glob(filepath.Join(journalDir, "*")); len(left) != 0 {
		t.Fatalf("journal left: %v", left)
	}
	// A second Recover has nothing to do.
	inNS(t, tp.client, func() { err = Recover(journalDir, testLog(t)) })
	if err != nil {
		t.Fatal(err)
	}
}
