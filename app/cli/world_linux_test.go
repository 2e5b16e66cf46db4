package cli

// The namespaces, processes and helpers of system_linux_test.go.

import (
	"bufio"
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ghostwire/ghostwire/app/localapi"
	"github.com/vishvananda/netns"
	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"
)

type world struct {
	t                      *testing.T
	dir                    string
	bin, server            string // binaries
	nsC, nsS               string
	srvAddr, svcAddr       string // server's veth address; an address inside the pushed route
	route                  string
	caFile, certF, keyF    string
	sock, stateDir, tmpDir string
	wgIf, pool             string
	serverProc             *proc
}

type proc struct {
	cmd  *exec.Cmd
	out  *syncBuf
	done chan struct{}
}

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) { s.mu.Lock(); defer s.mu.Unlock(); return s.b.Write(p) }
func (s *syncBuf) String() string              { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

func run(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func build(t *testing.T, dir, pkg, name string) string {
	t.Helper()
	out := filepath.Join(dir, name)
	cmd := exec.Command("go", "build", "-o", out, pkg)
	cmd.Dir = "../.." // module root
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", pkg, err, b)
	}
	return out
}

// start runs a command inside namespace ns; it is killed at cleanup.
func (w *world) start(ns string, env []string, args ...string) *proc {
	w.t.Helper()
	cmd := exec.Command("ip", append([]string{"netns", "exec", ns}, args...)...)
	p := &proc{cmd: cmd, out: &syncBuf{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.out, p.out
	cmd.Env = append(os.Environ(), env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		w.t.Fatal(err)
	}
	go func() { _ = cmd.Wait(); close(p.done) }()
	w.t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-p.done
		if w.t.Failed() {
			w.t.Logf("--- output of %s:\n%s", strings.Join(args, " "), p.out.String())
		}
	})
	return p
}

func (p *proc) stop(t *testing.T, sig os.Signal, within time.Duration) {
	t.Helper()
	_ = p.cmd.Process.Signal(sig)
	select {
	case <-p.done:
	case <-time.After(within):
		t.Fatalf("process did not stop within %s after %v:\n%s", within, sig, p.out.String())
	}
}

// gw runs the CLI in the laptop namespace and returns output and exit code.
func (w *world) gw(args ...string) (string, int) {
	cmd := exec.Command("ip", append([]string{"netns", "exec", w.nsC, w.bin, "--socket", w.sock}, args...)...)
	out, err := cmd.CombinedOutput()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		w.t.Fatal(err)
	}
	return string(out), code
}

func (w *world) status() localapi.Status {
	w.t.Helper()
	out, code := w.gw("status", "--json")
	var st localapi.Status
	if code != 0 || json.Unmarshal([]byte(out), &st) != nil {
		w.t.Fatalf("status --json: exit %d: %s", code, out)
	}
	return st
}

func (w *world) startServer() {
	w.serverProc = w.start(w.nsS, nil, w.server,
		"--listen", w.srvAddr+":8443", "--tls-cert", w.certF, "--tls-key", w.keyF,
		"--server-name", "gwd-system",
		"--issuer", "https://"+w.srvAddr+":8444", "--issuer-ca-file", w.caFile,
		"--audience", "ghostwire-server", "--client-id", "ghostwire-cli",
		"--scopes", "openid,offline_access,vpn.connect", "--required-scope", "vpn.connect",
		"--allowed-roles", "VPN.User",
		"--wg-mode", "userspace", "--interface", w.wgIf, "--listen-port", "51820",
		"--cidr", w.pool,
		"--endpoint", w.srvAddr+":51820",
		"--routes", w.route, "--dns-servers", w.svcAddr, "--cluster-domain", "cluster.local",
		"--manage-firewall=false", "--masquerade=false", "--ops-listen", w.svcAddr+":9090",
		"--log-format", "text", "--log-level", "debug")
	w.waitHTTPS(w.srvAddr+":8443", "/v1/config", w.serverProc)
}

func (w *world) waitHTTPS(hostport, path string, p *proc) {
	w.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		out, err := exec.Command("ip", "netns", "exec", w.nsC, "curl", "-sf", "--cacert", w.caFile, "https://"+hostport+path).CombinedOutput()
		if err == nil && len(out) > 0 {
			return
		}
		select {
		case <-p.done:
			w.t.Fatalf("process for %s exited:\n%s", hostport, p.out.String())
		case <-time.After(200 * time.Millisecond):
		}
	}
	w.t.Fatalf("%s%s did not answer within 30 s:\n%s", hostport, path, p.out.String())
}

var codeRe = regexp.MustCompile(`(?m)^\s+([A-Z0-9]{4}-[A-Z0-9]{4})\s*$`)

// up runs `ghostwire up` in the background, approves the code it prints, and
// returns its output once it exited 0.
func (w *world) up(args ...string) string {
	w.t.Helper()
	cmd := exec.Command("ip", append([]string{"netns", "exec", w.nsC, w.bin, "--socket", w.sock, "up", "--no-browser"}, args...)...)
	var out syncBuf
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		w.t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	approved := false
	deadline := time.After(60 * time.Second)
	for {
		select {
		case err := <-done:
			if err != nil {
				w.t.Fatalf("ghostwire up: %v\n%s", err, out.String())
			}
			return out.String()
		case <-deadline:
			_ = cmd.Process.Kill()
			w.t.Fatalf("ghostwire up did not finish:\n%s", out.String())
		case <-time.After(100 * time.Millisecond):
		}
		if m := codeRe.FindStringSubmatch(out.String()); m != nil && !approved {
			body := fmt.Sprintf(`{"user_code":%q,"user":"demo@example.com"}`, m[1])
			run(w.t, "ip", "netns", "exec", w.nsC, "curl", "-sSf", "--cacert", w.caFile, "-X", "POST",
				"-H", "Content-Type: application/json", "-d", body, "https://"+w.srvAddr+":8444/dev/approve")
			approved = true
		}
	}
}

func (w *world) waitDaemon(d *proc) {
	w.t.Helper()
	for i := 0; ; i++ {
		if _, code := w.gw("status"); code == 0 {
			return
		}
		if i > 100 {
			w.t.Fatalf("daemon did not start:\n%s", d.out.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// dialInLaptop opens a TCP connection from inside the laptop namespace: the
// socket is made on a thread switched into it.
func (w *world) dialInLaptop(addr string) net.Conn {
	w.t.Helper()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	orig, err := netns.Get()
	if err != nil {
		w.t.Fatal(err)
	}
	defer orig.Close()
	ns, err := netns.GetFromName(w.nsC)
	if err != nil {
		w.t.Fatal(err)
	}
	defer ns.Close()
	if err := netns.Set(ns); err != nil {
		w.t.Fatal(err)
	}
	c, derr := net.DialTimeout("tcp", addr, 5*time.Second)
	if err := netns.Set(orig); err != nil {
		w.t.Fatal(err)
	}
	if derr != nil {
		w.t.Fatal(derr)
	}
	return c
}

// httpOver sends one keep-alive HTTP request on c and reads the answer.
func (w *world) httpOver(c net.Conn) {
	w.t.Helper()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := fmt.Fprintf(c, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		w.t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		w.t.Fatalf("no HTTP answer over the open connection: %v", err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		w.t.Fatalf("healthz: %s", resp.Status)
	}
}

// privateKey reads the tunnel's private key through its UAPI socket (wg show),
// only so that the test can look for it on disk afterwards.
func (w *world) privateKey() string {
	w.t.Helper()
	k := strings.TrimSpace(run(w.t, "ip", "netns", "exec", w.nsC, "wg", "show", "gwd0", "private-key"))
	if _, err := wgtypes.ParseKey(k); err != nil {
		w.t.Fatalf("wg show private-key: %q", k)
	}
	return k
}

func (w *world) serverPeers() int {
	w.t.Helper()
	out := strings.TrimSpace(run(w.t, "ip", "netns", "exec", w.nsS, "wg", "show", w.wgIf, "peers"))
	if out == "" {
		return 0
	}
	return len(strings.Split(out, "\n"))
}

// collectTokens finds anything token-shaped the daemon may have logged (it
// must not); used as extra needles for the file scan.
func collectTokens(log string) []string {
	var out []string
	sc := bufio.NewScanner(strings.NewReader(log))
	re := regexp.MustCompile(`eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+`)
	for sc.Scan() {
		out = append(out, re.FindAllString(sc.Text(), -1)...)
	}
	return out
}

// makeCA writes a test CA and a certificate for ip signed by it.
func makeCA(t *testing.T, dir, ip string) (caFile, certFile, keyFile string) {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "gwd test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: ip},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IPAddresses: []net.IP{net.ParseIP(ip)}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		KeyUsage: x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := x509.MarshalECPrivateKey(key)
	write := func(name, typ string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: b}), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	return write("ca.pem", "CERTIFICATE", caDER), write("cert.pem", "CERTIFICATE", der), write("key.pem", "EC PRIVATE KEY", kb)
}
