package cli

// The whole client for real: the ghostwire binary's daemon in a network
// namespace (the laptop), ghostwire-server and its dev-idp in another (the
// cluster), joined by a veth. `ghostwire up` signs in with the device code
// (approved through the provider), the daemon registers, brings the
// wireguard-go tunnel up, and ping and TCP go through it. The server is
// restarted (the daemon re-registers with a new key by itself), then `down`
// cleans up, and SIGTERM while connected removes the peer from the server.
// Finally no file under the daemon's state and temp directories holds the
// private key or a token.

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io/fs"
	mrand "math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ghostwire/ghostwire/app/localapi"
	"github.com/ghostwire/ghostwire/internal/testenv"
)

func TestSystemDaemonUpPingRestartDown(t *testing.T) {
	testenv.RequireSystem(t, "curl", "ping", "wg")
	w := &world{t: t, dir: t.TempDir()}
	w.bin = build(t, w.dir, "./app", "ghostwire")
	w.server = build(t, w.dir, "./server", "ghostwire-server")

	n := mrand.IntN(90) + 1
	id := mrand.IntN(1 << 16)
	w.nsC, w.nsS = fmt.Sprintf("gwd-c%04x", id), fmt.Sprintf("gwd-s%04x", id)
	w.srvAddr = fmt.Sprintf("10.203.%d.1", n)
	w.route = fmt.Sprintf("10.203.%d.0/24", n+100)
	w.svcAddr = fmt.Sprintf("10.203.%d.1", n+100)
	w.wgIf = fmt.Sprintf("gwds%04x", id)
	w.pool = fmt.Sprintf("100.83.%d.0/24", n)
	for _, ns := range []string{w.nsC, w.nsS} {
		run(t, "ip", "netns", "add", ns)
		ns := ns
		t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", ns).Run() })
		run(t, "ip", "-n", ns, "link", "set", "lo", "up")
	}
	vC, vS := fmt.Sprintf("gwdv%04xc", id), fmt.Sprintf("gwdv%04xs", id)
	run(t, "ip", "link", "add", vC, "netns", w.nsC, "type", "veth", "peer", "name", vS, "netns", w.nsS)
	run(t, "ip", "-n", w.nsC, "addr", "add", fmt.Sprintf("10.203.%d.2/30", n), "dev", vC)
	run(t, "ip", "-n", w.nsS, "addr", "add", w.srvAddr+"/30", "dev", vS)
	run(t, "ip", "-n", w.nsC, "link", "set", vC, "up")
	run(t, "ip", "-n", w.nsS, "link", "set", vS, "up")
	// The "cluster" behind the server: an address of the pushed range.
	run(t, "ip", "-n", w.nsS, "addr", "add", w.svcAddr+"/32", "dev", "lo")

	w.caFile, w.certF, w.keyF = makeCA(t, w.dir, w.srvAddr)
	idp := w.start(w.nsS, nil, w.server, "dev-idp", "--listen", w.srvAddr+":8444", "--i-know-this-is-insecure",
		"--tls-cert", w.certF, "--tls-key", w.keyF, "--poll-interval", "1s")
	w.waitHTTPS(w.srvAddr+":8444", "/.well-known/openid-configuration", idp)
	w.startServer()

	// The daemon, with its own state and temp directories.
	w.stateDir, w.tmpDir = filepath.Join(w.dir, "state"), filepath.Join(w.dir, "tmp")
	if err := os.MkdirAll(w.tmpDir, 0o700); err != nil {
		t.Fatal(err)
	}
	w.sock = filepath.Join(w.dir, "run", "ghostwire.sock")
	daemonArgs := []string{w.bin, "--socket", w.sock, "daemon", "--state-dir", w.stateDir, "--interface-prefix", "gwd",
		"--dns", "off", "--peer-check-interval", "2s", "--log-level", "debug"}
	d := w.start(w.nsC, []string{"TMPDIR=" + w.tmpDir}, daemonArgs...)
	w.waitDaemon(d)
	if fi, err := os.Stat(w.sock); err != nil || fi.Mode().Perm()&0o007 != 0 {
		t.Fatalf("socket %v %v", fi, err)
	}

	// up: the code is shown, approved, then the summary.
	out := w.up("https://"+w.srvAddr+":8443", "--ca-file", w.caFile, "--device-code")
	for _, want := range []string{"enter the code", "Connected to https://" + w.srvAddr + ":8443 as demo@example.com", "interface  gwd0", w.route} {
		if !strings.Contains(out, want) {
			t.Fatalf("up output lacks %q:\n%s", want, out)
		}
	}
	p := w.status().Profiles[0]
	if p.State != localapi.StateConnected || p.LatestHandshake == nil || !strings.HasPrefix(p.Address, "100.83.") {
		t.Fatalf("status after up: %+v", p)
	}
	privKey := w.privateKey()

	// Packets flow: ping and TCP (the server's ops HTTP on an address of the pushed range).
	run(t, "ip", "netns", "exec", w.nsC, "ping", "-c", "2", "-i", "0.2", "-W", "2", w.svcAddr)
	if body := run(t, "ip", "netns", "exec", w.nsC, "curl", "-sS", "--max-time", "5", "http://"+w.svcAddr+":9090/healthz"); body == "" {
		t.Fatal("no answer over TCP through the tunnel")
	}
	if r := run(t, "ip", "-n", w.nsC, "route", "get", w.svcAddr); !strings.Contains(r, "dev gwd0") {
		t.Fatalf("route to the cluster does not use the tunnel: %s", r)
	}

	// Key rotation (what the daemon does before the peer's lifetime ends, here
	// asked for with `ghostwire extend`): new key, same address, and an open
	// TCP connection keeps working.
	conn := w.dialInLaptop(w.svcAddr + ":9090")
	defer conn.Close()
	w.httpOver(conn)
	addr0 := p.Address
	if out, code := w.gw("extend"); code != 0 {
		t.Fatalf("extend: %d %s", code, out)
	}
	deadline := time.Now().Add(30 * time.Second)
	for w.privateKey() == privKey || w.status().Profiles[0].State != localapi.StateConnected {
		if time.Now().After(deadline) {
			t.Fatalf("no rotation:\n%s", d.out.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	if p := w.status().Profiles[0]; p.Address != addr0 {
		t.Fatalf("rotation changed the address %s → %s", addr0, p.Address)
	}
	if w.serverPeers() != 1 {
		t.Fatalf("the old peer was not replaced: %d peers on the server", w.serverPeers())
	}
	w.httpOver(conn) // the same TCP connection, after the rotation
	rotatedFrom := privKey
	privKey = w.privateKey()

	// A network change on the laptop (a new link appears): the daemon hears it
	// over netlink, checks that packets still flow (the server answers the
	// kick within its keepalive timeout), and keeps its key.
	before := strings.Count(d.out.String(), "connection checked: packets flow")
	run(t, "ip", "-n", w.nsC, "link", "add", "gwdn0", "type", "veth", "peer", "name", "gwdn1")
	changed := time.Now()
	deadline = time.Now().Add(30 * time.Second)
	for strings.Count(d.out.String(), "connection checked: packets flow") == before {
		if time.Now().After(deadline) {
			t.Fatalf("the network change was not checked:\n%s", d.out.String())
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Logf("network change checked in %s", time.Since(changed).Round(time.Millisecond))
	if w.privateKey() != privKey || w.status().Profiles[0].State != localapi.StateConnected {
		t.Fatal("a network change with a live session must keep the key and stay connected")
	}

	// Server restart: new server key, the old peer is gone. The daemon notices
	// (404 on its own peer), registers a new key, and packets flow again.
	oldKey := privKey
	w.serverProc.stop(t, syscall.SIGTERM, 15*time.Second)
	// The restarted server hands out addresses from another pool, so the
	// tunnel's address changes too (routes must survive that).
	w.pool = fmt.Sprintf("100.83.%d.0/24", n+100)
	w.startServer()
	restarted := time.Now()
	deadline = time.Now().Add(45 * time.Second)
	for {
		p = w.status().Profiles[0]
		if p.State == localapi.StateConnected {
			if k := w.privateKey(); k != oldKey {
				privKey = k
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no reconnection after the server restarted: %+v\n%s", p, d.out.String())
		}
		time.Sleep(250 * time.Millisecond)
	}
	if p.Address == addr0 || !strings.HasPrefix(p.Address, fmt.Sprintf("100.83.%d.", n+100)) {
		t.Fatalf("after the restart the address should come from the new pool: %s", p.Address)
	}
	t.Logf("connected again %s after the restarted server answered (peer check every 2 s)", time.Since(restarted).Round(time.Millisecond))
	if out, err := exec.Command("ip", "netns", "exec", w.nsC, "ping", "-c", "2", "-i", "0.2", "-W", "2", w.svcAddr).CombinedOutput(); err != nil {
		t.Fatalf("no ping after reconnecting: %v %s\nroutes:\n%s\naddresses:\n%s", err, out,
			run(t, "ip", "-n", w.nsC, "route"), run(t, "ip", "-n", w.nsC, "addr"))
	}
	tokens := collectTokens(d.out.String())

	// down: exit 0, no interface, no route, no peer on the server.
	if out, code := w.gw("down"); code != 0 || !strings.Contains(out, "disconnected") {
		t.Fatalf("down: %d %s", code, out)
	}
	if out, err := exec.Command("ip", "-n", w.nsC, "link", "show", "gwd0").CombinedOutput(); err == nil {
		t.Fatalf("interface left behind after down: %s", out)
	}
	if r := run(t, "ip", "-n", w.nsC, "route", "show"); strings.Contains(r, w.route) {
		t.Fatalf("route left behind after down: %s", r)
	}
	if peers := w.serverPeers(); peers != 0 {
		t.Fatalf("%d peers left on the server after down", peers)
	}

	// Up again (silent: the token is still valid), then SIGTERM the daemon:
	// it takes the tunnel down and removes the peer from the server.
	t0 := time.Now()
	out = w.up()
	t.Logf("second `ghostwire up` (valid sign-in: one register call + one handshake) took %s", time.Since(t0).Round(time.Millisecond))
	if strings.Contains(out, "enter the code") {
		t.Fatalf("a second up with a valid sign-in must not ask again:\n%s", out)
	}
	keys := []string{privKey, w.privateKey()}
	if w.serverPeers() != 1 {
		t.Fatal("no peer on the server after the second up")
	}
	d.stop(t, syscall.SIGTERM, 20*time.Second)
	if peers := w.serverPeers(); peers != 0 {
		t.Fatalf("%d peers left on the server after SIGTERM:\n%s", peers, d.out.String())
	}
	if out, err := exec.Command("ip", "-n", w.nsC, "link", "show", "gwd0").CombinedOutput(); err == nil {
		t.Fatalf("interface left behind after SIGTERM: %s", out)
	}

	// kill -9 while connected: the journal stays behind, and the next daemon
	// undoes what it lists at start (here the UAPI socket file).
	d = w.start(w.nsC, []string{"TMPDIR=" + w.tmpDir}, daemonArgs...)
	w.waitDaemon(d)
	out = w.up()
	if !strings.Contains(out, "enter the code") {
		t.Fatalf("a new daemon holds no token, so up must ask to sign in:\n%s", out)
	}
	keys = append(keys, w.privateKey())
	journal := filepath.Join(w.stateDir, "journal", "gwd0.journal.json")
	if _, err := os.Stat(journal); err != nil {
		entries, _ := os.ReadDir(filepath.Dir(journal))
		t.Fatalf("no journal while connected (%v): %v", err, entries)
	}
	d.stop(t, syscall.SIGKILL, 5*time.Second)
	if _, err := os.Stat(journal); err != nil {
		t.Fatalf("the journal should survive kill -9: %v", err)
	}
	d = w.start(w.nsC, []string{"TMPDIR=" + w.tmpDir}, daemonArgs...)
	w.waitDaemon(d)
	if _, err := os.Stat(journal); err == nil {
		t.Fatalf("the new daemon did not replay the journal of the killed one:\n%s", d.out.String())
	}
	if _, err := os.Stat("/var/run/wireguard/gwd0.sock"); err == nil {
		t.Fatal("the killed daemon's UAPI socket is still there")
	}
	if st := w.status(); st.Profiles[0].State != localapi.StateDisconnected {
		t.Fatalf("after a restart the profile is known and disconnected: %+v", st.Profiles[0])
	}
	d.stop(t, syscall.SIGTERM, 20*time.Second)

	// No secret at rest: no file under the state or temp directory holds a
	// private key of the session (base64 or hex) or a token.
	var secrets []string
	for _, k := range append(keys, oldKey, rotatedFrom) {
		secrets = append(secrets, k)
		if raw, err := base64.StdEncoding.DecodeString(k); err == nil {
			secrets = append(secrets, hex.EncodeToString(raw))
		}
	}
	secrets = append(secrets, tokens...)
	secrets = append(secrets, "eyJ") // any JWT
	checked := 0
	for _, root := range []string{w.stateDir, w.tmpDir} {
		_ = filepath.WalkDir(root, func(path string, de fs.DirEntry, err error) error {
			if err != nil || de.IsDir() || !de.Type().IsRegular() {
				return nil
			}
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			checked++
			for _, s := range secrets {
				if bytes.Contains(b, []byte(s)) {
					t.Errorf("%s holds a secret (%.8s...)", path, s)
				}
			}
			return nil
		})
	}
	if checked == 0 {
		t.Fatal("the state directory is empty: profiles.json should be there")
	}
	// The daemon's log carries no key or token either.
	for _, s := range secrets[:len(secrets)-1] {
		if strings.Contains(d.out.String(), s) {
			t.Errorf("the daemon's log holds a secret (%.8s...)", s)
		}
	}
}
