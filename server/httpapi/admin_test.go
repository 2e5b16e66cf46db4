package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"

	"github.com/ghostwire/ghostwire/auth/devidp"
	"github.com/ghostwire/ghostwire/auth/verify"
	"github.com/ghostwire/ghostwire/server/api"
	"github.com/ghostwire/ghostwire/server/audit"
	"github.com/ghostwire/ghostwire/server/denylist"
	"github.com/ghostwire/ghostwire/server/httpapi"
	"github.com/ghostwire/ghostwire/server/pool"
	"github.com/ghostwire/ghostwire/server/registry"
)

// keyDevice records which keys are on the device (the real device is in the
// server's system test).
type keyDevice struct {
	mu   sync.Mutex
	keys map[wgtypes.Key]bool
}

func (d *keyDevice) AddPeer(k wgtypes.Key, _ netip.Prefix) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.keys[k] = true
	return nil
}
func (d *keyDevice) RemovePeer(k wgtypes.Key) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	delete(d.keys, k)
	return nil
}
func (d *keyDevice) has(k string) bool {
	key, _ := wgtypes.ParseKey(k)
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.keys[key]
}

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) { s.mu.Lock(); defer s.mu.Unlock(); return s.b.Write(p) }

// auditLines are the audit lines logged so far with the given action.
func (s *syncBuf) auditLines(action string) []map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []map[string]any
	for _, l := range strings.Split(s.b.String(), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(l), &m) == nil && m["msg"] == "audit" && m["action"] == action {
			out = append(out, m)
		}
	}
	return out
}

type adminEnv struct {
	t       *testing.T
	idp     *devidp.TestServer
	srv     *httptest.Server
	api     *httpapi.Server
	reg     *registry.Registry
	dev     *keyDevice
	logs    *syncBuf
	denyTxt string
	deny    *denylist.List
}

// newAdminEnv is the API with the real verifier against the in-process
// OpenID provider, and a deny list read from a file.
func newAdminEnv(t *testing.T) *adminEnv { t.Helper(); return newAdminEnvTenant(t, "") }

// newAdminEnvTenant with a tenant id identifies users by Entra's rule
// (tid + oid), as the server does for Entra.
func newAdminEnvTenant(t *testing.T, tenant string) *adminEnv {
	t.Helper()
	e := &adminEnv{t: t, idp: devidp.NewTestServer(t, devidp.Options{}), dev: &keyDevice{keys: map[wgtypes.Key]bool{}}, logs: &syncBuf{}}
	log := slog.New(slog.NewJSONHandler(e.logs, nil))
	v, err := verify.New(context.Background(), verify.Config{
		Issuer: e.idp.Issuer(), Audience: e.idp.Audience(), RequiredScope: e.idp.APIScope(), TenantID: tenant,
		AllowedRoles: []string{devidp.RoleUser}, AdminRoles: []string{devidp.RoleAdmin}, HTTPClient: e.idp.HTTPClient(),
	})
	if err != nil {
		t.Fatal(err)
	}
	e.denyTxt = filepath.Join(t.TempDir(), "deny-users")
	if e.deny, err = denylist.New(e.denyTxt, log); err != nil {
		t.Fatal(err)
	}
	p, _ := pool.New(netip.MustParsePrefix("100.81.10.0/24"), time.Minute, nil)
	e.reg = registry.New(registry.Options{Pool: p, Device: e.dev, DeviceCap: 5, MaxLifetime: time.Hour, IdleTimeout: time.Minute, Grace: time.Minute,
		Denied: func(o registry.Owner) bool { _, d := e.deny.Denied(o.Subject, o.ObjectID); return d }})
	e.api = httpapi.New(httpapi.Options{Config: e.idp.APIConfig("test"), Verifier: v, Registry: e.reg, Deny: e.deny, Audit: audit.New(log), Logger: log,
		Network: httpapi.Network{Endpoint: httpapi.StaticEndpoint("vpn.example.com:51820"), MTU: 1420}})
	e.srv = httptest.NewServer(e.api)
	t.Cleanup(e.srv.Close)
	return e
}

func (e *adminEnv) do(method, path, token string, body any) (int, []byte) {
	e.t.Helper()
	var r io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		r = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, e.srv.URL+path, r)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func (e *adminEnv) token(user string) string {
	e.t.Helper()
	tok, err := e.idp.MintAccessToken(user)
	if err != nil {
		e.t.Fatal(err)
	}
	return tok
}

func (e *adminEnv) claim(user, name string) string {
	e.t.Helper()
	c, err := e.idp.Claims(user)
	if err != nil {
		e.t.Fatal(err)
	}
	s, _ := c[name].(string)
	if s == "" {
		e.t.Fatalf("%s has no %s claim", user, name)
	}
	return s
}

// register registers a new key for user and wants 201.
func (e *adminEnv) register(user string) string {
	e.t.Helper()
	k, _ := wgtypes.GeneratePrivateKey()
	key := k.PublicKey().String()
	if code, b := e.do("POST", api.PathPeers, e.token(user), api.RegisterRequest{PublicKey: key}); code != 201 {
		e.t.Fatalf("%s registering: %d %s", user, code, b)
	}
	return key
}

func peerPath(key string) string { return api.PathPeer + url.PathEscape(key) }

func wantAPIError(t *testing.T, code int, b []byte, status int, apiCode, inMsg string) {
	t.Helper()
	var e api.Error
	if code != status || json.Unmarshal(b, &e) != nil || e.Code != apiCode || !strings.Contains(e.Message, inMsg) {
		t.Fatalf("got %d %s, want %d %s containing %q", code, b, status, apiCode, inMsg)
	}
}

func TestAdminRemovesAnyPeer(t *testing.T) {
	e := newAdminEnv(t)
	demo, admin := e.token(devidp.UserDemo), e.token(devidp.UserAdmin)
	d1, d2, a1 := e.register(devidp.UserDemo), e.register(devidp.UserDemo), e.register(devidp.UserAdmin)
	demoSubject := e.idp.Issuer() + "#" + e.claim(devidp.UserDemo, "sub")

	// A user cannot remove someone else's peer, nor learn that it exists.
	code, b := e.do("DELETE", peerPath(a1), demo, nil)
	wantAPIError(t, code, b, 404, api.CodeNotFound, "no peer with that key for you")
	if !e.dev.has(a1) {
		t.Fatal("demo removed the admin's peer")
	}
	// The admin can: 204, gone from registry and device, audited with both names.
	if code, b := e.do("DELETE", peerPath(d1), admin, nil); code != 204 {
		t.Fatalf("admin deleting demo's peer: %d %s", code, b)
	}
	if e.dev.has(d1) || e.reg.Len() != 2 {
		t.Fatalf("demo's peer still there (device %v, registry %d)", e.dev.has(d1), e.reg.Len())
	}
	lines := e.logs.auditLines("admin_delete")
	if len(lines) != 1 || lines[0]["decision"] != "remove" || lines[0]["user"] != e.idp.Issuer()+"#"+e.claim(devidp.UserAdmin, "sub") ||
		lines[0]["owner"] != demoSubject || lines[0]["owner_name"] != devidp.UserDemo || lines[0]["key"] != d1 || lines[0]["reason"] != "admin" {
		t.Fatalf("audit: %v", lines)
	}
	code, b = e.do("DELETE", peerPath(d1), admin, nil)
	wantAPIError(t, code, b, 404, api.CodeNotFound, "no peer with that key")
	// The admin's own peer goes the ordinary way.
	if code, b := e.do("DELETE", peerPath(a1), admin, nil); code != 204 || e.dev.has(a1) {
		t.Fatalf("admin deleting own peer: %d %s", code, b)
	}
	if !e.dev.has(d2) {
		t.Fatal("demo's other peer went too")
	}
}

func TestAdminRemovesAllPeersOfUser(t *testing.T) {
	e := newAdminEnv(t)
	demo, admin := e.token(devidp.UserDemo), e.token(devidp.UserAdmin)
	a1 := e.register(devidp.UserAdmin)
	del := func(token string, query string) (int, []byte) { return e.do("DELETE", api.PathPeers+query, token, nil) }

	code, b := del(demo, "?user="+url.QueryEscape(e.claim(devidp.UserAdmin, "sub")))
	wantAPIError(t, code, b, 403, api.CodeForbidden, "admin role")
	for _, q := range []string{"", "?user=", "?user=a&user=b", "?user=a&all=1"} {
		code, b := del(admin, q)
		wantAPIError(t, code, b, 400, api.CodeBadRequest, "user=")
	}
	if !e.dev.has(a1) {
		t.Fatal("a refused request removed a peer")
	}
	// A generic OpenID provider's user is named by the full subject or the
	// sub, exactly: OpenID sub values are case-sensitive, and an oid claim
	// means nothing there (issue 10: ?user=casey also removed CASEY's peers
	// and those of a token carrying "oid":"casey").
	demoSub, demoOID := e.claim(devidp.UserDemo, "sub"), e.claim(devidp.UserDemo, "oid")
	e.removeAllBy(t, admin, devidp.UserDemo, e.idp.Issuer()+"#"+demoSub, demoSub)
	keys := []string{e.register(devidp.UserDemo)}
	for _, other := range []string{strings.ToUpper(demoSub), demoOID, strings.ToUpper(e.idp.Issuer() + "#" + demoSub)} {
		if code, b := del(admin, "?user="+url.QueryEscape(other)); code != 200 || !strings.Contains(string(b), `"removed":[]`) || !e.dev.has(keys[0]) {
			t.Fatalf("?user=%s removed the generic provider's user: %d %s", other, code, b)
		}
	}
	// 1 refusal (not admin) + 4 bad requests + 6 removals (one line each) + 5 allow lines.
	if n := len(e.logs.auditLines("admin_delete")); n != 1+4+6+5 {
		t.Fatalf("%d admin_delete audit lines", n)
	}
}

// With Entra's identity rule (tid + oid) the user is also named by the oid
// alone, and Entra's GUIDs compare without regard to case.
func TestAdminRemovesAllPeersOfEntraUser(t *testing.T) {
	e := newAdminEnvTenant(t, devidp.DefaultTenantID)
	admin := e.token(devidp.UserAdmin)
	a1 := e.register(devidp.UserAdmin)
	oid, tid := e.claim(devidp.UserDemo, "oid"), e.claim(devidp.UserDemo, "tid")
	subject := e.idp.Issuer() + "#" + tid + "/" + oid
	e.removeAllBy(t, admin, devidp.UserDemo, subject, tid+"/"+oid, strings.ToUpper(oid), oid)
	// The sub is not Entra's identity.
	k := e.register(devidp.UserDemo)
	if code, b := e.do("DELETE", api.PathPeers+"?user="+url.QueryEscape(e.claim(devidp.UserDemo, "sub")), admin, nil); code != 200 || !e.dev.has(k) {
		t.Fatalf("removed by sub under Entra's rule: %d %s", code, b)
	}
	if !e.dev.has(a1) {
		t.Fatal("the admin's own peer went")
	}
}

// removeAllBy registers three peers for user and removes them by each name
// in turn, checking the answer and the device.
func (e *adminEnv) removeAllBy(t *testing.T, admin, user string, names ...string) {
	t.Helper()
	before := e.reg.Len()
	for _, name := range names {
		keys := []string{e.register(user), e.register(user), e.register(user)}
		code, b := e.do("DELETE", api.PathPeers+"?user="+url.QueryEscape(name), admin, nil)
		var out api.RemovedPeers
		if code != 200 || json.Unmarshal(b, &out) != nil || out.User != name || len(out.Removed) != 3 || out.Removed[0].PublicKey != keys[0] {
			t.Fatalf("removing by %q: %d %s", name, code, b)
		}
		for _, k := range keys {
			if e.dev.has(k) {
				t.Fatalf("by %q: %s still on the device", name, k)
			}
		}
		if e.reg.Len() != before {
			t.Fatalf("by %q: registry has %d peers, want %d", name, e.reg.Len(), before)
		}
	}
}

// Adding a user to the deny file removes their live peers at once and
// refuses them from then on, even with a still-valid token.
func TestDenyListReloadRemovesLivePeers(t *testing.T) {
	e := newAdminEnv(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); e.deny.Watch(ctx, time.Hour, func() { e.api.EnforceDenyList(ctx) }) }()
	t.Cleanup(func() { cancel(); <-done })
	time.Sleep(50 * time.Millisecond) // watcher installed

	demo := e.token(devidp.UserDemo) // valid for the rest of the test
	d1, d2, a1 := e.register(devidp.UserDemo), e.register(devidp.UserDemo), e.register(devidp.UserAdmin)
	write := func(s string) {
		os.WriteFile(e.denyTxt+".tmp", []byte(s), 0o644)
		if err := os.Rename(e.denyTxt+".tmp", e.denyTxt); err != nil {
			t.Fatal(err)
		}
	}
	write("# left the company\n" + e.claim(devidp.UserDemo, "sub") + "  # demo, ticket 1\n")
	deadline := time.Now().Add(5 * time.Second)
	for e.dev.has(d1) || e.dev.has(d2) {
		if time.Now().After(deadline) {
			t.Fatal("denied user's peers still on the device after the reload")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if !e.dev.has(a1) || e.reg.Len() != 1 {
		t.Fatalf("registry has %d peers, admin's present: %v", e.reg.Len(), e.dev.has(a1))
	}
	lines := e.logs.auditLines("deny_list")
	if len(lines) != 2 || lines[0]["reason"] != "denied" || lines[0]["owner_name"] != devidp.UserDemo {
		t.Fatalf("audit: %v", lines)
	}
	// The same, still valid token is refused everywhere with a clear message.
	k, _ := wgtypes.GeneratePrivateKey()
	code, b := e.do("POST", api.PathPeers, demo, api.RegisterRequest{PublicKey: k.PublicKey().String()})
	wantAPIError(t, code, b, 403, api.CodeForbidden, "revoked by an administrator")
	code, b = e.do("GET", peerPath(d1), demo, nil)
	wantAPIError(t, code, b, 403, api.CodeForbidden, "revoked by an administrator")
	if deny := e.logs.auditLines("register"); len(deny) == 0 || !strings.HasPrefix(deny[len(deny)-1]["reason"].(string), "deny list: ") {
		t.Fatalf("register refusal not audited with the entry: %v", deny)
	}
	// A broken edit keeps the list; emptying it lets the user back.
	write("two words\n")
	time.Sleep(400 * time.Millisecond)
	code, _ = e.do("POST", api.PathPeers, demo, api.RegisterRequest{PublicKey: k.PublicKey().String()})
	if code != 403 {
		t.Fatalf("broken deny file let the user back: %d", code)
	}
	write("")
	deadline = time.Now().Add(5 * time.Second)
	for {
		code, b := e.do("POST", api.PathPeers, demo, api.RegisterRequest{PublicKey: k.PublicKey().String()})
		if code == 201 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("user still refused after the deny list was emptied: %d %s", code, b)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
