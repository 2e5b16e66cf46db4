package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/oauth2"
	"golang.zx2c4.com/wireguard/wgctrl"
	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"

	"github.com/ghostwire/ghostwire/auth/devidp"
	"github.com/ghostwire/ghostwire/internal/testenv"
	"github.com/ghostwire/ghostwire/server/api"
	"github.com/ghostwire/ghostwire/server/forward"
	"github.com/ghostwire/ghostwire/server/internal/nstest"
	"github.com/ghostwire/ghostwire/server/wgdev"
)

// TestHelperProcess is the ghostwire-server command inside a child process
// (started through `ip netns exec`), so the command's own wiring, flags,
// environment and signal handling run for real.
func TestHelperProcess(t *testing.T) {
	if os.Getenv("GWS_HELPER") != "1" {
		t.Skip("helper process for TestSystemBinary")
	}
	args := os.Args
	for i, a := range args {
		if a == "--" {
			args = args[i+1:]
			break
		}
	}
	cmd := rootCommand()
	cmd.SetArgs(args)
	if err := cmd.Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "ghostwire-server:", err)
		os.Exit(1)
	}
	os.Exit(0)
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}
func (l *lockedBuffer) String() string { l.mu.Lock(); defer l.mu.Unlock(); return l.b.String() }

func startHelper(t *testing.T, ns string, env []string, args ...string) (*exec.Cmd, *lockedBuffer) {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("ip", append([]string{"netns", "exec", ns, exe, "-test.run=^TestHelperProcess$", "--"}, args...)...)
	cmd.Env = append(append(os.Environ(), "GWS_HELPER=1"), env...)
	out := &lockedBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	return cmd, out
}

// The real command end to end in a namespace: dev-idp and the server as
// processes, a token by device flow, registration from a second namespace,
// readiness and metrics on the ops port, settings from flags and env, and a
// SIGTERM that removes the device, the nftables table and the UAPI socket.
func TestSystemBinary(t *testing.T) {
	testenv.RequireSystem(t, "nft")
	nsS, nsC := nstest.Pair(t, "10.201.6.1/30", "10.201.6.2/30")
	ifname := fmt.Sprintf("gwsx%04x", rand.IntN(1<<16))
	resolv := filepath.Join(t.TempDir(), "resolv.conf")
	denyFile := filepath.Join(filepath.Dir(resolv), "deny-users") // absent at start: nobody denied
	os.WriteFile(resolv, []byte("nameserver 10.201.6.1\nsearch ghostwire.svc.cluster.local svc.cluster.local cluster.local\n"), 0o644)

	idp, idpOut := startHelper(t, nsS, nil, "dev-idp", "--listen", "127.0.0.1:8444", "--insecure-http", "--poll-interval", "1s")
	_ = idp
	srv, srvOut := startHelper(t, nsS, []string{
		"GHOSTWIRE_DEVICE_CAP=1", "GHOSTWIRE_INTERFACE=" + ifname, "GHOSTWIRE_LOG_LEVEL=debug", "GHOSTWIRE_DENY_USERS_FILE=" + denyFile,
	}, "--insecure-http", "--listen", "10.201.6.1:8443", "--ops-listen", "10.201.6.1:9090",
		"--issuer", "http://127.0.0.1:8444", "--audience", devidp.DefaultAudience, "--client-id", devidp.DefaultClientID,
		"--required-scope", devidp.DefaultAPIScope, "--allowed-roles", devidp.RoleUser, "--endpoint", "10.201.6.1:51860",
		"--listen-port", "51860", "--cidr", "100.81.6.0/24", "--routes", "10.201.6.0/30", "--resolv-conf", resolv, "--wg-mode", "userspace")

	hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DialContext: nstest.DialContext(t, nsC)}}
	idpc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DialContext: nstest.DialContext(t, nsS)}}
	fail := func(format string, a ...any) {
		t.Helper()
		t.Fatalf(format+"\n--- server output:\n%s\n--- dev-idp output:\n%s", append(a, srvOut.String(), idpOut.String())...)
	}
	// Wait for readiness (token issuer reachable, forwarding on, endpoint known).
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := hc.Get("http://10.201.6.1:9090/readyz")
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
			if time.Now().After(deadline) {
				fail("not ready: %d %s", resp.StatusCode, b)
			}
		} else if time.Now().After(deadline) {
			fail("server not up: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}

	// Sign in as a client would: GET /v1/config, then device flow.
	resp, err := hc.Get("http://10.201.6.1:8443" + api.PathConfig)
	if err != nil {
		fail("%v", err)
	}
	var cfg api.Config
	json.NewDecoder(resp.Body).Decode(&cfg)
	resp.Body.Close()
	if cfg.Issuer != "http://127.0.0.1:8444" || cfg.ClientID != devidp.DefaultClientID || !strings.Contains(strings.Join(cfg.Scopes, " "), "vpn.connect") {
		fail("config: %+v", cfg)
	}
	ctx := context.WithValue(context.Background(), oauth2.HTTPClient, idpc)
	oc := &oauth2.Config{ClientID: cfg.ClientID, Scopes: cfg.Scopes, Endpoint: oauth2.Endpoint{
		DeviceAuthURL: cfg.Issuer + "/device_authorization", TokenURL: cfg.Issuer + "/oauth/token", AuthStyle: oauth2.AuthStyleInParams}}
	// Take the real endpoints from discovery.
	if r, err := idpc.Get(cfg.Issuer + "/.well-known/openid-configuration"); err == nil {
		var d struct {
			Token  string `json:"token_endpoint"`
			Device string `json:"device_authorization_endpoint"`
		}
		json.NewDecoder(r.Body).Decode(&d)
		r.Body.Close()
		oc.Endpoint.TokenURL, oc.Endpoint.DeviceAuthURL = d.Token, d.Device
	}
	da, err := oc.DeviceAuth(ctx)
	if err != nil {
		fail("device auth: %v", err)
	}
	ab, _ := json.Marshal(map[string]string{"user_code": da.UserCode, "user": devidp.UserDemo})
	if r, err := idpc.Post(cfg.Issuer+"/dev/approve", "application/json", bytes.NewReader(ab)); err != nil || r.StatusCode != 204 {
		fail("approve: %v %v", err, r)
	}
	tok, err := oc.DeviceAccessToken(ctx, da)
	if err != nil {
		fail("token: %v", err)
	}

	register := func(key string) (int, []byte) {
		body, _ := json.Marshal(api.RegisterRequest{PublicKey: key, DeviceName: "binary-test"})
		req, _ := http.NewRequest("POST", "http://10.201.6.1:8443"+api.PathPeers, bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
		r, err := hc.Do(req)
		if err != nil {
			fail("%v", err)
		}
		defer r.Body.Close()
		b, _ := io.ReadAll(r.Body)
		return r.StatusCode, b
	}
	k1, _ := wgtypes.GeneratePrivateKey()
	code, b := register(k1.PublicKey().String())
	var p api.Peer
	if code != 201 || json.Unmarshal(b, &p) != nil {
		fail("register: %d %s", code, b)
	}
	if p.Address != "100.81.6.2/32" || p.Endpoint != "10.201.6.1:51860" || strings.Join(p.DNSServers, ",") != "10.201.6.1" ||
		strings.Join(p.MatchDomains, ",") != "cluster.local" || len(p.SearchDomains) != 3 || p.IdleTimeoutSeconds != 600 {
		fail("peer: %+v", p)
	}
	// GHOSTWIRE_DEVICE_CAP=1 from the environment applies.
	k2, _ := wgtypes.GeneratePrivateKey()
	if code, b := register(k2.PublicKey().String()); code != 429 {
		fail("cap from env: %d %s", code, b)
	}
	// Metrics on the ops port.
	r, err := hc.Get("http://10.201.6.1:9090/metrics")
	if err != nil {
		fail("%v", err)
	}
	mb, _ := io.ReadAll(r.Body)
	r.Body.Close()
	for _, want := range []string{`ghostwire_registrations_total{result="created"} 1`, `ghostwire_registrations_total{result="too_many_devices"} 1`, `ghostwire_peers_active 1`} {
		if !strings.Contains(string(mb), want) {
			fail("metrics lack %s", want)
		}
	}
	// The deny list (GHOSTWIRE_DENY_USERS_FILE): naming the user's sub takes
	// their peer off the real device at once and refuses the still-valid
	// token; emptying it lets them back.
	writeDeny := func(s string) {
		os.WriteFile(denyFile+".tmp", []byte(s), 0o644)
		if err := os.Rename(denyFile+".tmp", denyFile); err != nil {
			fail("%v", err)
		}
	}
	writeDeny("# test\n" + jwtClaim(t, tok.AccessToken, "sub") + "\n")
	wc, err := wgctrl.New()
	if err != nil {
		fail("%v", err)
	}
	defer wc.Close()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		d, err := wc.Device(ifname)
		if err != nil {
			fail("wgctrl: %v", err)
		}
		if len(d.Peers) == 0 {
			break
		}
		if time.Now().After(deadline) {
			fail("denied user's peer still on the device: %v", d.Peers)
		}
	}
	if code, b := register(k2.PublicKey().String()); code != 403 || !strings.Contains(string(b), "revoked by an administrator") {
		fail("denied user registering: %d %s", code, b)
	}
	writeDeny("")
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		code, b := register(k2.PublicKey().String())
		if code == 201 {
			break
		}
		if time.Now().After(deadline) {
			fail("user still refused after the deny list was emptied: %d %s", code, b)
		}
	}
	// Device and rules exist while running.
	nstest.Run(t, "ip", "netns", "exec", nsS, "nft", "list", "table", "inet", forward.TableName)
	if _, err := os.Stat(filepath.Join(wgdev.UAPIDir, ifname+".sock")); err != nil {
		fail("UAPI socket: %v", err)
	}

	// SIGTERM: graceful shutdown removes everything.
	srv.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- srv.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			fail("server exit: %v", err)
		}
	case <-time.After(20 * time.Second):
		fail("server did not stop on SIGTERM")
	}
	if out, err := exec.Command("ip", "-n", nsS, "link", "show", ifname).CombinedOutput(); err == nil {
		fail("interface left: %s", out)
	}
	if out, err := exec.Command("ip", "netns", "exec", nsS, "nft", "list", "table", "inet", forward.TableName).CombinedOutput(); err == nil {
		fail("nftables table left: %s", out)
	}
	if _, err := os.Stat(filepath.Join(wgdev.UAPIDir, ifname+".sock")); !os.IsNotExist(err) {
		fail("UAPI socket left: %v", err)
	}
	logs := srvOut.String()
	for _, want := range []string{"WARNING: --insecure-http", `"action":"shutdown"`, `"decision":"allow"`, `"action":"deny_list"`, `"reason":"denied"`} {
		if !strings.Contains(logs, want) {
			fail("server log lacks %s", want)
		}
	}
	if strings.Contains(logs, tok.AccessToken) {
		fail("the access token reached the logs")
	}
}

// jwtClaim reads a string claim from a JWT's payload (no verification: the
// token came from the test's own provider).
func jwtClaim(t *testing.T, jwt, name string) string {
	t.Helper()
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT")
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	var claims map[string]any
	if err != nil || json.Unmarshal(b, &claims) != nil {
		t.Fatalf("JWT payload: %v", err)
	}
	v, _ := claims[name].(string)
	if v == "" {
		t.Fatalf("JWT has no %s claim", name)
	}
	return v
}
