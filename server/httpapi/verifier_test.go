package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"

	"github.com/ghostwire/ghostwire/auth/devidp"
	"github.com/ghostwire/ghostwire/auth/verify"
	"github.com/ghostwire/ghostwire/server/api"
	"github.com/ghostwire/ghostwire/server/httpapi"
	"github.com/ghostwire/ghostwire/server/pool"
	"github.com/ghostwire/ghostwire/server/registry"
)

type nopDevice struct {
	mu sync.Mutex
	n  int
}

// The device is not the point here (see the server's system test).
func (d *nopDevice) AddPeer(wgtypes.Key, netip.Prefix) error {
	d.mu.Lock()
	d.n++
	d.mu.Unlock()
	return nil
}
func (d *nopDevice) RemovePeer(wgtypes.Key) error { d.mu.Lock(); d.n--; d.mu.Unlock(); return nil }

// The API with the real token verifier against the real in-process OpenID
// provider (zitadel/oidc over TLS): who may register, who is an admin, and
// that the user's identity is issuer + subject, never the e-mail.
func TestRealVerifierAndProvider(t *testing.T) {
	idp := devidp.NewTestServer(t, devidp.Options{})
	v, err := verify.New(context.Background(), verify.Config{
		Issuer: idp.Issuer(), Audience: idp.Audience(), RequiredScope: idp.APIScope(),
		AllowedRoles: []string{devidp.RoleUser}, AdminRoles: []string{devidp.RoleAdmin}, HTTPClient: idp.HTTPClient(),
	})
	if err != nil {
		t.Fatal(err)
	}
	p, _ := pool.New(netip.MustParsePrefix("100.81.9.0/24"), time.Minute, nil)
	reg := registry.New(registry.Options{Pool: p, Device: &nopDevice{}, DeviceCap: 5, MaxLifetime: time.Hour, IdleTimeout: time.Minute, Grace: time.Minute})
	srv := httptest.NewServer(httpapi.New(httpapi.Options{Config: idp.APIConfig("test"), Verifier: v, Registry: reg,
		Network: httpapi.Network{Endpoint: httpapi.StaticEndpoint("vpn.example.com:51820"), MTU: 1420}}))
	defer srv.Close()

	do := func(method, path, token string, body any) (int, []byte) {
		t.Helper()
		var r io.Reader
		if body != nil {
			b, _ := json.Marshal(body)
			r = bytes.NewReader(b)
		}
		req, _ := http.NewRequest(method, srv.URL+path, r)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}
	mint := func(user string) string {
		tok, err := idp.MintAccessToken(user)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	key := func() string { k, _ := wgtypes.GeneratePrivateKey(); return k.PublicKey().String() }

	code, b := do("GET", api.PathConfig, "", nil)
	var cfg api.Config
	if code != 200 || json.Unmarshal(b, &cfg) != nil || cfg.Issuer != idp.Issuer() || cfg.ClientID != idp.ClientID() {
		t.Fatalf("config %d %s", code, b)
	}

	demo := mint(devidp.UserDemo)
	k := key()
	if code, b := do("POST", api.PathPeers, demo, api.RegisterRequest{PublicKey: k, DeviceName: "laptop"}); code != 201 {
		t.Fatalf("demo register %d %s", code, b)
	}
	// A fresh token for the same user owns the same peer.
	if code, b := do("POST", api.PathPeers, mint(devidp.UserDemo), api.RegisterRequest{PublicKey: k}); code != 200 {
		t.Fatalf("same user, new token: %d %s", code, b)
	}
	// Signed in, but without the role: 403 with a message for the person.
	code, b = do("POST", api.PathPeers, mint(devidp.UserOutsider), api.RegisterRequest{PublicKey: key()})
	var e api.Error
	if code != 403 || json.Unmarshal(b, &e) != nil || e.Code != api.CodeForbidden || e.Message == "" {
		t.Fatalf("outsider: %d %s", code, b)
	}
	// The admin takes the demo user's key: 409.
	admin := mint(devidp.UserAdmin)
	if code, b := do("POST", api.PathPeers, admin, api.RegisterRequest{PublicKey: k}); code != 409 {
		t.Fatalf("admin taking demo's key: %d %s", code, b)
	}
	// Admin list shows the demo user's peer under its stable subject.
	code, b = do("GET", api.PathPeers, admin, nil)
	var l api.PeerList
	if code != 200 || json.Unmarshal(b, &l) != nil || len(l.Peers) != 1 || l.Peers[0].DisplayName != devidp.UserDemo ||
		strings.Contains(l.Peers[0].User, "@") || !strings.HasPrefix(l.Peers[0].User, idp.Issuer()) {
		t.Fatalf("admin list %d %s", code, b)
	}
	if code, _ := do("GET", api.PathPeers, demo, nil); code != 403 {
		t.Fatalf("demo listing: %d", code)
	}
	// Bad tokens: garbage, a token signed by the provider for another audience, expired.
	claims, _ := idp.Claims(devidp.UserDemo)
	claims["aud"] = "someone-else"
	wrongAud, _ := idp.SignClaims(claims)
	claims, _ = idp.Claims(devidp.UserDemo)
	claims["exp"] = time.Now().Add(-time.Hour).Unix()
	expired, _ := idp.SignClaims(claims)
	for name, tok := range map[string]string{"garbage": "not.a.jwt", "wrong audience": wrongAud, "expired": expired} {
		code, b := do("POST", api.PathPeers, tok, api.RegisterRequest{PublicKey: key()})
		if code != 401 || json.Unmarshal(b, &e) != nil || e.Code != api.CodeUnauthorized {
			t.Errorf("%s: %d %s", name, code, b)
		}
	}
	if reg.Len() != 1 {
		t.Fatalf("registry has %d peers", reg.Len())
	}
}
