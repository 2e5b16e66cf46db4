package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"

	"github.com/ghostwire/ghostwire/auth/verify"
	"github.com/ghostwire/ghostwire/server/api"
	"github.com/ghostwire/ghostwire/server/audit"
	"github.com/ghostwire/ghostwire/server/metrics"
	"github.com/ghostwire/ghostwire/server/pool"
	"github.com/ghostwire/ghostwire/server/registry"
	"github.com/ghostwire/ghostwire/server/wgkey"
)

// tokens is a TokenVerifier double for the HTTP layer's own tests: the real
// verifier against a real OpenID provider is exercised in server's
// verifier tests. Token "alice" is Alice, and so on.
type tokens map[string]*verify.Identity

func (t tokens) Verify(_ context.Context, raw string) (*verify.Identity, error) {
	switch raw {
	case "expired":
		return nil, &verify.Error{Status: 401, Code: api.CodeUnauthorized, Message: "your sign-in has expired: sign in again", Reason: "exp in the past"}
	case "norole":
		return nil, &verify.Error{Status: 403, Code: api.CodeForbidden, Message: "your account is not allowed to use this VPN (ask your admin for the VPN user role)", Reason: "no role"}
	case "idp-down":
		return nil, errors.New("fetching JWKS: connection refused")
	case "noscope":
		return nil, &verify.Error{Status: 403, Code: "insufficient_scope", Scope: "vpn.connect", Message: "your access token does not carry the scope vpn.connect", Reason: "scopes []"}
	case "keys-down":
		return nil, &verify.Error{Status: 503, Code: "unavailable", RetryAfter: 1500 * time.Millisecond, Message: "the server cannot check your sign-in right now: try again", Reason: "jwks 500"}
	}
	if id, ok := t[raw]; ok {
		return id, nil
	}
	return nil, &verify.Error{Status: 401, Code: api.CodeUnauthorized, Message: "invalid token", Reason: "bad signature"}
}

// memDevice stands in for the WireGuard device (the real one runs in the
// server's system test).
type memDevice struct {
	mu    sync.Mutex
	peers map[wgtypes.Key]netip.Prefix
}

func (d *memDevice) AddPeer(k wgtypes.Key, p netip.Prefix) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.peers[k] = p
	return nil
}
func (d *memDevice) RemovePeer(k wgtypes.Key) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	delete(d.peers, k)
	return nil
}

type failingEndpoint struct{}

func (failingEndpoint) Endpoint() (string, error) {
	return "", errors.New("Service ghostwire/ghostwire has no LoadBalancer address yet")
}

type env struct {
	srv     *httptest.Server
	handler *Server
	dev     *memDevice
	logs    *bytes.Buffer
	logsMu  *sync.Mutex
	srvKey  wgtypes.Key
}

type lockedBuf struct {
	mu *sync.Mutex
	b  *bytes.Buffer
}

func (l lockedBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func newEnv(t testing.TB, cidr string, cap int, ep EndpointSource) *env {
	return newEnvRate(t, cidr, cap, ep, 0)
}

func newEnvRate(t testing.TB, cidr string, cap int, ep EndpointSource, rate float64) *env {
	t.Helper()
	p, err := pool.New(netip.MustParsePrefix(cidr), time.Hour, nil)
	if err != nil {
		t.Fatal(err)
	}
	dev := &memDevice{peers: map[wgtypes.Key]netip.Prefix{}}
	reg := registry.New(registry.Options{Pool: p, Device: dev, DeviceCap: cap, MaxLifetime: 12 * time.Hour, IdleTimeout: 10 * time.Minute, Grace: 2 * time.Minute,
		RegisterRate: rate, RegisterBurst: 2})
	e := &env{dev: dev, logs: &bytes.Buffer{}, logsMu: &sync.Mutex{}}
	log := slog.New(slog.NewJSONHandler(lockedBuf{e.logsMu, e.logs}, nil))
	sk, _ := wgtypes.GeneratePrivateKey()
	e.srvKey = sk.PublicKey()
	ids := tokens{
		"alice": {Subject: "https://idp|alice", Name: "alice@example.com"},
		"bob":   {Subject: "https://idp|bob", Name: "bob@example.com"},
		"admin": {Subject: "https://idp|admin", Name: "root", Admin: true},
	}
	for i := 0; i < 64; i++ {
		ids[fmt.Sprint("user", i)] = &verify.Identity{Subject: fmt.Sprint("https://idp|user", i)}
	}
	s := New(Options{
		Config:   api.Config{ServerName: "test", Provider: api.ProviderOIDC, Issuer: "https://idp", ClientID: "cli", Scopes: []string{"openid", "vpn"}},
		Verifier: ids,
		Registry: reg,
		Network: Network{ServerPublicKey: e.srvKey, Endpoint: ep, Routes: []string{"10.244.0.0/16"}, DNSServers: []string{"10.0.0.10"},
			SearchDomains: []string{"default.svc.cluster.local", "svc.cluster.local"}, MatchDomains: []string{"cluster.local"},
			MTU: 1420, Keepalive: 25 * time.Second, IdleTimeout: 10 * time.Minute},
		Audit:   audit.New(log),
		Metrics: metrics.New(),
		Logger:  log,
		Ready:   []Check{{Name: "endpoint", Func: func() error { _, err := ep.Endpoint(); return err }}},
	})
	e.srv, e.handler = httptest.NewServer(s), s
	t.Cleanup(e.srv.Close)
	return e
}

func newKey(t testing.TB) string {
	k, _ := wgtypes.GeneratePrivateKey()
	return k.PublicKey().String()
}

func (e *env) do(t testing.TB, method, path, token, contentType string, body io.Reader) (int, []byte, http.Header) {
	t.Helper()
	req, _ := http.NewRequest(method, e.srv.URL+path, body)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b, resp.Header
}

func (e *env) register(t testing.TB, token string, req any) (int, []byte) {
	t.Helper()
	var body io.Reader
	switch v := req.(type) {
	case string:
		body = strings.NewReader(v)
	default:
		b, _ := json.Marshal(v)
		body = bytes.NewReader(b)
	}
	code, b, _ := e.do(t, "POST", api.PathPeers, token, "application/json", body)
	return code, b
}

func peerPath(key string) string { return api.PathPeer + url.PathEscape(key) }

func wantError(t *testing.T, code int, body []byte, wantStatus int, wantCode, wantInMsg string) {
	t.Helper()
	var e api.Error
	if err := json.Unmarshal(body, &e); err != nil {
		t.Fatalf("status %d, body not an api.Error: %s", code, body)
	}
	if code != wantStatus || e.Code != wantCode || !strings.Contains(e.Message, wantInMsg) {
		t.Fatalf("got %d %+v, want %d %s containing %q", code, e, wantStatus, wantCode, wantInMsg)
	}
}

func TestConfigNeedsNoAuth(t *testing.T) {
	e := newEnv(t, "100.81.0.0/24", 5, StaticEndpoint("vpn.example.com:51820"))
	code, b, h := e.do(t, "GET", api.PathConfig, "", "", nil)
	var c api.Config
	if code != 200 || json.Unmarshal(b, &c) != nil || c.Issuer != "https://idp" || c.Provider != "oidc" || h.Get("Cache-Control") != "no-store" {
		t.Fatalf("%d %s", code, b)
	}
}

func TestBadInputs(t *testing.T) {
	e := newEnv(t, "100.81.0.0/24", 5, StaticEndpoint("vpn.example.com:51820"))
	key := newKey(t)
	good := fmt.Sprintf(`{"public_key":%q}`, key)
	cases := []struct {
		name, token, ctype, body string
		status                   int
		code, msg                string
	}{
		{"missing auth", "", "application/json", good, 401, api.CodeUnauthorized, "sign in first"},
		{"expired token", "expired", "application/json", good, 401, api.CodeUnauthorized, "sign in again"},
		{"not allowed", "norole", "application/json", good, 403, api.CodeForbidden, "ask your admin"},
		{"provider down", "idp-down", "application/json", good, 503, api.CodeUnavailable, "try again"},
		{"bad json", "alice", "application/json", `{"public_key":`, 400, api.CodeBadRequest, "not valid JSON"},
		{"not an object", "alice", "application/json", `["x"]`, 400, api.CodeBadRequest, "must be a JSON"},
		{"empty body", "alice", "application/json", ``, 400, api.CodeBadRequest, "empty"},
		{"unknown field", "alice", "application/json", fmt.Sprintf(`{"public_key":%q,"allowed_ips":["0.0.0.0/0"]}`, key), 400, api.CodeBadRequest, `unknown field "allowed_ips"`},
		{"trailing data", "alice", "application/json", good + `{}`, 400, api.CodeBadRequest, "single JSON object"},
		{"wrong type", "alice", "application/json", `{"public_key":42}`, 400, api.CodeBadRequest, `"public_key" must be a JSON string`},
		{"wrong content type", "alice", "text/plain", good, 415, api.CodeBadRequest, "application/json"},
		{"oversized", "alice", "application/json", `{"public_key":"` + strings.Repeat("A", api.MaxBodyBytes) + `"}`, 413, api.CodeBadRequest, "larger than"},
		{"missing key", "alice", "application/json", `{}`, 400, api.CodeBadRequest, "public_key"},
		{"short key", "alice", "application/json", `{"public_key":"abc="}`, 400, api.CodeBadRequest, "44 characters"},
		{"long key", "alice", "application/json", fmt.Sprintf(`{"public_key":%q}`, key+"AAAA"), 400, api.CodeBadRequest, "44 characters"},
		{"not base64", "alice", "application/json", `{"public_key":"!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!="}`, 400, api.CodeBadRequest, "base64"},
		{"url-safe base64", "alice", "application/json", fmt.Sprintf(`{"public_key":%q}`, strings.NewReplacer("+", "-", "/", "_").Replace("/+"+key[2:])), 400, api.CodeBadRequest, "base64"},
		{"zero key", "alice", "application/json", `{"public_key":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="}`, 400, api.CodeBadRequest, "all zeros"},
		{"control chars in name", "alice", "application/json", fmt.Sprintf(`{"public_key":%q,"device_name":"a\u0007b"}`, key), 400, api.CodeBadRequest, "printable"},
		{"long name", "alice", "application/json", fmt.Sprintf(`{"public_key":%q,"device_name":%q}`, key, strings.Repeat("x", 65)), 400, api.CodeBadRequest, "64 characters"},
		{"bad replaces", "alice", "application/json", fmt.Sprintf(`{"public_key":%q,"replaces":"nope"}`, key), 400, api.CodeBadRequest, "replaces"},
		// Issue 10: the server's own key, keys no private key gives, members
		// twice or in another case.
		{"the server's own key", "alice", "application/json", fmt.Sprintf(`{"public_key":%q}`, e.srvKey), 400, api.CodeBadRequest, "server's own WireGuard key"},
		{"low-order key", "alice", "application/json", `{"public_key":"X5yVvKNQjCSx0LFVnIPvWwREXMRYHI6G2CJO3dCfEVc="}`, 400, api.CodeBadRequest, "low-order point"},
		{"p+1", "alice", "application/json", `{"public_key":"7v///////////////////////////////////////38="}`, 400, api.CodeBadRequest, "not a reduced number"},
		{"top bit set", "alice", "application/json", `{"public_key":"AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAIA="}`, 400, api.CodeBadRequest, "top bit"},
		{"low-order replaces", "alice", "application/json", fmt.Sprintf(`{"public_key":%q,"replaces":"X5yVvKNQjCSx0LFVnIPvWwREXMRYHI6G2CJO3dCfEVc="}`, key), 400, api.CodeBadRequest, "replaces: the WireGuard public key is a low-order point"},
		{"member twice", "alice", "application/json", fmt.Sprintf(`{"public_key":%q,"public_key":%q}`, newKey(t), key), 400, api.CodeBadRequest, `"public_key" appears twice`},
		{"another member twice", "alice", "application/json", fmt.Sprintf(`{"public_key":%q,"device_name":"x","device_name":"y"}`, key), 400, api.CodeBadRequest, `"device_name" appears twice`},
		{"name in another case", "alice", "application/json", fmt.Sprintf(`{"PUBLIC_KEY":%q}`, key), 400, api.CodeBadRequest, `case-sensitive (did you mean "public_key"?)`},
		{"missing scope", "noscope", "application/json", good, 403, api.CodeForbidden, "scope vpn.connect"},
		{"key set unreachable", "keys-down", "application/json", good, 503, api.CodeUnavailable, "try again"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, b, h := e.do(t, "POST", api.PathPeers, tc.token, tc.ctype, strings.NewReader(tc.body))
			wantError(t, code, b, tc.status, tc.code, tc.msg)
			if tc.status == 401 && h.Get("WWW-Authenticate") == "" {
				t.Error("401 without WWW-Authenticate")
			}
			if tc.token == "noscope" && h.Get("WWW-Authenticate") != `Bearer realm="ghostwire", error="insufficient_scope", scope="vpn.connect"` {
				t.Errorf("insufficient scope: WWW-Authenticate %q", h.Get("WWW-Authenticate"))
			}
			if tc.token == "keys-down" && h.Get("Retry-After") != "2" {
				t.Errorf("503 Retry-After %q, want 2", h.Get("Retry-After"))
			}
		})
	}
	if len(e.dev.peers) != 0 {
		t.Fatalf("a bad request reached the device: %v", e.dev.peers)
	}
	// Other bad requests: wrong method, unknown path, bad key in the path, bad scheme.
	code, b, h := e.do(t, "PUT", api.PathPeers, "alice", "", nil)
	wantError(t, code, b, 405, api.CodeBadRequest, "not allowed")
	if !strings.Contains(h.Get("Allow"), "POST") {
		t.Errorf("Allow = %q", h.Get("Allow"))
	}
	code, b, _ = e.do(t, "GET", "/v2/peers", "alice", "", nil)
	wantError(t, code, b, 404, api.CodeNotFound, "not part of the ghostwire API")
	code, b, _ = e.do(t, "GET", api.PathPeer+"short", "alice", "", nil)
	wantError(t, code, b, 400, api.CodeBadRequest, "44 characters")
	req, _ := http.NewRequest("GET", e.srv.URL+api.PathPeers, nil)
	req.Header.Set("Authorization", "Basic YWxpY2U6c2VjcmV0")
	resp, _ := http.DefaultClient.Do(req)
	b, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	wantError(t, resp.StatusCode, b, 401, api.CodeUnauthorized, "Bearer")

	// No token ever reaches a log line.
	e.logsMu.Lock()
	defer e.logsMu.Unlock()
	if strings.Contains(e.logs.String(), "YWxpY2U6c2VjcmV0") || !strings.Contains(e.logs.String(), `"decision":"deny"`) {
		t.Fatalf("logs: %s", e.logs.String())
	}
}

func TestPeerLifecycle(t *testing.T) {
	e := newEnv(t, "100.81.0.0/24", 2, StaticEndpoint("vpn.example.com:51820"))
	key := newKey(t)
	for len(key) > 0 && !strings.ContainsAny(key, "+/") { // exercise path escaping
		key = newKey(t)
	}
	code, b := e.register(t, "alice", api.RegisterRequest{PublicKey: key, DeviceName: "laptop"})
	var p api.Peer
	if code != 201 || json.Unmarshal(b, &p) != nil {
		t.Fatalf("%d %s", code, b)
	}
	if p.Address != "100.81.0.2/32" || p.ServerPublicKey != e.srvKey.String() || p.Endpoint != "vpn.example.com:51820" || p.MTU != 1420 ||
		p.KeepaliveSeconds != 25 || p.IdleTimeoutSeconds != 600 || len(p.Routes) != 1 || p.DNSServers[0] != "10.0.0.10" ||
		fmt.Sprint(p.MatchDomains) != "[cluster.local]" || len(p.SearchDomains) != 2 || p.ExpiresAt.Sub(p.CreatedAt) != 12*time.Hour {
		t.Fatalf("peer: %+v", p)
	}
	if e.dev.peers[mustKey(t, key)] != netip.MustParsePrefix("100.81.0.2/32") {
		t.Fatalf("device: %v", e.dev.peers)
	}
	// Same key, same user: idempotent.
	code, b = e.register(t, "alice", api.RegisterRequest{PublicKey: key, DeviceName: "laptop"})
	var again api.Peer
	if code != 200 || json.Unmarshal(b, &again) != nil || again.Address != p.Address || !again.CreatedAt.Equal(p.CreatedAt) {
		t.Fatalf("re-register %d %s", code, b)
	}
	// Someone else's key: 409; someone else cannot see or remove it: 404.
	code, b = e.register(t, "bob", api.RegisterRequest{PublicKey: key})
	wantError(t, code, b, 409, api.CodeConflict, "another user")
	code, b, _ = e.do(t, "GET", peerPath(key), "bob", "", nil)
	wantError(t, code, b, 404, api.CodeNotFound, "register again")
	code, b, _ = e.do(t, "DELETE", peerPath(key), "bob", "", nil)
	wantError(t, code, b, 404, api.CodeNotFound, "no peer")
	// The owner sees it.
	code, b, _ = e.do(t, "GET", peerPath(key), "alice", "", nil)
	if code != 200 || !strings.Contains(string(b), p.Address) {
		t.Fatalf("get own %d %s", code, b)
	}
	// Cap: 2 devices.
	second := newKey(t)
	if code, b := e.register(t, "alice", api.RegisterRequest{PublicKey: second}); code != 201 {
		t.Fatalf("%d %s", code, b)
	}
	code, b = e.register(t, "alice", api.RegisterRequest{PublicKey: newKey(t)})
	wantError(t, code, b, 429, api.CodeTooManyPeers, "disconnect one")
	// Rotation keeps the address and does not count against the cap.
	rotated := newKey(t)
	code, b = e.register(t, "alice", api.RegisterRequest{PublicKey: rotated, Replaces: key})
	var rp api.Peer
	if code != 201 || json.Unmarshal(b, &rp) != nil || rp.Address != p.Address {
		t.Fatalf("rotate %d %s", code, b)
	}
	if _, ok := e.dev.peers[mustKey(t, key)]; ok {
		t.Fatal("old key still on the device")
	}
	// Admin list: refused to users, allowed to admins.
	code, b, _ = e.do(t, "GET", api.PathPeers, "alice", "", nil)
	wantError(t, code, b, 403, api.CodeForbidden, "admin role")
	code, b, _ = e.do(t, "GET", api.PathPeers, "admin", "", nil)
	var l api.PeerList
	if code != 200 || json.Unmarshal(b, &l) != nil || len(l.Peers) != 2 || l.Peers[0].User != "https://idp|alice" {
		t.Fatalf("list %d %s", code, b)
	}
	// Delete own.
	code, _, _ = e.do(t, "DELETE", peerPath(rotated), "alice", "", nil)
	if code != 204 || len(e.dev.peers) != 1 {
		t.Fatalf("delete %d, device %v", code, e.dev.peers)
	}
	code, _, _ = e.do(t, "GET", peerPath(rotated), "alice", "", nil)
	if code != 404 {
		t.Fatalf("deleted peer still visible: %d", code)
	}
	e.logsMu.Lock()
	logs := e.logs.String()
	e.logsMu.Unlock()
	for _, want := range []string{`"decision":"allow","action":"register"`, `"decision":"remove","action":"rotate"`, `"decision":"remove","action":"delete"`, `"reason":"key owned by another user"`} {
		if !strings.Contains(logs, want) {
			t.Errorf("audit log lacks %s", want)
		}
	}
}

func mustKey(t testing.TB, s string) wgtypes.Key {
	k, err := wgkey.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestPoolExhaustedAndNoEndpoint(t *testing.T) {
	e := newEnv(t, "100.81.0.0/30", 5, StaticEndpoint("vpn.example.com:51820")) // one client address
	if code, b := e.register(t, "alice", api.RegisterRequest{PublicKey: newKey(t)}); code != 201 {
		t.Fatalf("%d %s", code, b)
	}
	code, b := e.register(t, "bob", api.RegisterRequest{PublicKey: newKey(t)})
	wantError(t, code, b, 503, api.CodePoolExhausted, "enlarge the address pool")

	e2 := newEnv(t, "100.81.0.0/24", 5, failingEndpoint{})
	code, b = e2.register(t, "alice", api.RegisterRequest{PublicKey: newKey(t)})
	wantError(t, code, b, 503, api.CodeUnavailable, "no LoadBalancer address")
	code, b, _ = e2.do(t, "GET", "/readyz", "", "", nil)
	wantError(t, code, b, 503, api.CodeUnavailable, "endpoint: Service ghostwire/ghostwire has no LoadBalancer")
	if code, _, _ := e.do(t, "GET", "/readyz", "", "", nil); code != 200 {
		t.Fatalf("ready server: %d", code)
	}
	if code, _, _ := e2.do(t, "GET", "/healthz", "", "", nil); code != 200 {
		t.Fatalf("healthz: %d", code)
	}
}

// Run with -race: 64 users registering at once never get the same address.
func TestConcurrentRegistrationsNeverShareAnAddress(t *testing.T) {
	e := newEnv(t, "100.81.0.0/22", 5, StaticEndpoint("vpn.example.com:51820"))
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		addrs = map[string]string{}
		fails []string
	)
	for u := 0; u < 64; u++ {
		wg.Add(1)
		go func(u int) {
			defer wg.Done()
			for i := 0; i < 5; i++ {
				key := newKey(t)
				code, b := e.register(t, fmt.Sprint("user", u), api.RegisterRequest{PublicKey: key})
				var p api.Peer
				mu.Lock()
				if code != 201 || json.Unmarshal(b, &p) != nil {
					fails = append(fails, fmt.Sprintf("%d %s", code, b))
				} else if other, dup := addrs[p.Address]; dup {
					fails = append(fails, fmt.Sprintf("%s given to %s and %s", p.Address, other, key))
				} else {
					addrs[p.Address] = key
				}
				mu.Unlock()
			}
		}(u)
	}
	wg.Wait()
	if len(fails) > 0 || len(addrs) != 320 || len(e.dev.peers) != 320 {
		t.Fatalf("%d addresses, %d on device, failures: %v", len(addrs), len(e.dev.peers), fails)
	}
}

func TestRateLimited(t *testing.T) {
	e := newEnvRate(t, "100.81.0.0/24", 5, StaticEndpoint("vpn.example.com:51820"), 1)
	for i := 0; i < 2; i++ {
		k := newKey(t)
		if code, b := e.register(t, "alice", api.RegisterRequest{PublicKey: k}); code != 201 {
			t.Fatalf("%d %s", code, b)
		}
		if code, _, _ := e.do(t, "DELETE", peerPath(k), "alice", "", nil); code != 204 {
			t.Fatalf("delete %d", code)
		}
	}
	req, _ := http.NewRequest("POST", e.srv.URL+api.PathPeers, strings.NewReader(fmt.Sprintf(`{"public_key":%q}`, newKey(t))))
	req.Header.Set("Authorization", "Bearer alice")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	wantError(t, resp.StatusCode, b, 429, api.CodeRateLimited, "try again in")
	if ra := resp.Header.Get("Retry-After"); ra == "" || ra == "0" {
		t.Fatalf("Retry-After %q", ra)
	}
	if code, b := e.register(t, "bob", api.RegisterRequest{PublicKey: newKey(t)}); code != 201 {
		t.Fatalf("bob is limited by alice's churn: %d %s", code, b)
	}
}

// A member named twice in a nested object or in an object inside an array
// is refused too. The register request has no nested member (anything
// nested there is a type error first), so decodeBody is asked directly.
func TestDecodeBodyRefusesNestedDuplicates(t *testing.T) {
	type inner struct {
		B string `json:"b"`
	}
	type outer struct {
		A inner   `json:"a"`
		L []inner `json:"l"`
	}
	for body, want := range map[string]string{
		`{"a":{"b":"x","b":"y"}}`:              `"b" appears twice`,
		`{"l":[{"b":"x"},{"b":"x","b":"y"}]}`:  `"b" appears twice`,
		`{"a":{"b":"x"},"l":[{"b":"y"}]}`:      "",
		`{"a":{"b":"x"},"l":[],"a":{"b":"x"}}`: `"a" appears twice`,
	} {
		var v outer
		status, msg := decodeBody([]byte(body), &v)
		if want == "" {
			if status != 0 {
				t.Errorf("%s: refused: %d %s", body, status, msg)
			}
			continue
		}
		if status != http.StatusBadRequest || !strings.Contains(msg, want) {
			t.Errorf("%s: %d %q, want 400 with %q", body, status, msg, want)
		}
	}
}
