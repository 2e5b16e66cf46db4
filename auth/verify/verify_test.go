package verify_test

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"golang.org/x/oauth2"

	"github.com/ghostwire/ghostwire/auth/devidp"
	"github.com/ghostwire/ghostwire/auth/devidp/entratest"
	"github.com/ghostwire/ghostwire/auth/verify"
)

func devConfig(ts *devidp.TestServer) verify.Config {
	return verify.Config{
		Issuer:        ts.Issuer(),
		Audience:      ts.Audience(),
		RequiredScope: ts.APIScope(),
		AllowedRoles:  []string{devidp.RoleUser},
		AdminRoles:    []string{devidp.RoleAdmin},
		AccessName:    "VPN Users",
		HTTPClient:    ts.HTTPClient(),
	}
}

func newVerifier(t *testing.T, cfg verify.Config) *verify.Verifier {
	t.Helper()
	v, err := verify.New(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// wantRefusal checks err is a *verify.Error with status and code, and that
// its message for people mentions want.
func wantRefusal(t *testing.T, id *verify.Identity, err error, status int, code, want string) {
	t.Helper()
	var ve *verify.Error
	if !errors.As(err, &ve) {
		t.Fatalf("want *verify.Error %d %s, got identity %+v err %v", status, code, id, err)
	}
	if ve.Status != status || ve.Code != code || !strings.Contains(ve.Message, want) {
		t.Fatalf("got %d %s %q (reason %q), want %d %s containing %q", ve.Status, ve.Code, ve.Message, ve.Reason, status, code, want)
	}
	if id != nil {
		t.Fatal("identity returned with an error")
	}
}

// deviceToken signs in through the real device flow and returns the access token.
func deviceToken(t *testing.T, ts *devidp.TestServer, user string) string {
	t.Helper()
	ctx := context.WithValue(t.Context(), oauth2.HTTPClient, ts.HTTPClient())
	cfg := &oauth2.Config{ClientID: ts.ClientID(), Scopes: ts.Scopes(), Endpoint: oauth2.Endpoint{
		TokenURL: ts.Issuer() + "/oauth/token", DeviceAuthURL: ts.Issuer() + "/device_authorization", AuthStyle: oauth2.AuthStyleInParams}}
	da, err := cfg.DeviceAuth(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := ts.Approve(da.UserCode, user); err != nil {
		t.Fatal(err)
	}
	tok, err := cfg.DeviceAccessToken(ctx, da)
	if err != nil {
		t.Fatal(err)
	}
	return tok.AccessToken
}

func TestGoodTokensFromDeviceFlow(t *testing.T) {
	ts := devidp.NewTestServer(t, devidp.Options{PollInterval: time.Second})
	v := newVerifier(t, devConfig(ts))
	id, err := v.Verify(t.Context(), deviceToken(t, ts, devidp.UserDemo))
	if err != nil {
		t.Fatalf("demo refused: %v", err)
	}
	u, _ := ts.User(devidp.UserDemo)
	if id.Subject != ts.Issuer()+"#"+u.Subject || id.Name != devidp.UserDemo || id.Admin || id.Issuer != ts.Issuer() {
		t.Fatalf("identity %+v", id)
	}
	id, err = v.Verify(t.Context(), deviceToken(t, ts, devidp.UserAdmin))
	if err != nil || !id.Admin {
		t.Fatalf("admin: %+v %v", id, err)
	}
	id, err = v.Verify(t.Context(), deviceToken(t, ts, devidp.UserOutsider))
	wantRefusal(t, id, err, 403, "not_allowed", "your account (guest@example.com) is not in the group allowed to use this VPN (ask your admin to add you to VPN Users)")
}

func TestGroupsAuthorization(t *testing.T) {
	ts := devidp.NewTestServer(t, devidp.Options{})
	cfg := devConfig(ts)
	cfg.AllowedRoles, cfg.AccessName = nil, ""
	cfg.AllowedGroups = []string{devidp.GroupVPNUsers}
	cfg.AdminGroups = []string{devidp.GroupVPNAdmins}
	v := newVerifier(t, cfg)
	tok, _ := ts.MintAccessToken(devidp.UserAdmin)
	if id, err := v.Verify(t.Context(), tok); err != nil || !id.Admin {
		t.Fatalf("admin by group: %+v %v", id, err)
	}
	tok, _ = ts.MintAccessToken(devidp.UserOutsider)
	id, err := v.Verify(t.Context(), tok)
	wantRefusal(t, id, err, 403, "not_allowed", "the group "+devidp.GroupVPNUsers)
}

// base64 JSON helpers to forge tokens by hand.
func seg(v any) string {
	b, _ := json.Marshal(v)
	return base64.RawURLEncoding.EncodeToString(b)
}

func headerKid(t *testing.T, tok string) string {
	t.Helper()
	b, _ := base64.RawURLEncoding.DecodeString(strings.Split(tok, ".")[0])
	var h map[string]any
	_ = json.Unmarshal(b, &h)
	return h["kid"].(string)
}

func TestBadTokens(t *testing.T) {
	ts := devidp.NewTestServer(t, devidp.Options{})
	cfg := devConfig(ts)
	cfg.TenantID = devidp.DefaultTenantID
	v := newVerifier(t, cfg)
	good, err := ts.MintAccessToken(devidp.UserDemo)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(t.Context(), good); err != nil {
		t.Fatalf("good token refused: %v", err)
	}
	kid := headerKid(t, good)
	base := func() map[string]any {
		c, err := ts.Claims(devidp.UserDemo)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	signed := func(mod func(map[string]any)) string {
		c := base()
		mod(c)
		tok, err := ts.SignClaims(c)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	now := time.Now()

	// The provider's public key, as an attacker reads it from the JWKS.
	resp, err := ts.HTTPClient().Get(ts.Issuer() + "/keys")
	if err != nil {
		t.Fatal(err)
	}
	var jwks jose.JSONWebKeySet
	_ = json.NewDecoder(resp.Body).Decode(&jwks)
	resp.Body.Close()
	pubDER, _ := x509.MarshalPKIXPublicKey(jwks.Keys[0].Key)

	otherKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	cases := []struct {
		name, token, code, msg string
		status                 int
	}{
		{"empty", "", "missing_token", "sign in", 401},
		{"garbage", "not.a.jwt", "invalid_token", "not valid", 401},
		{"wrong signature", func() string {
			s, _ := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: otherKey, KeyID: kid}}, nil)
			b, _ := json.Marshal(base())
			o, _ := s.Sign(b)
			tok, _ := o.CompactSerialize()
			return tok
		}(), "invalid_token", "signature", 401},
		{"tampered payload", func() string {
			p := strings.Split(good, ".")
			c := base()
			c["roles"] = []string{devidp.RoleAdmin}
			return p[0] + "." + seg(c) + "." + p[2]
		}(), "invalid_token", "signature", 401},
		{"alg none", seg(map[string]any{"alg": "none", "typ": "JWT", "kid": kid}) + "." + seg(base()) + ".", "invalid_token", "not valid", 401},
		{"HS256 with the public key as secret", func() string {
			in := seg(map[string]any{"alg": "HS256", "typ": "JWT", "kid": kid}) + "." + seg(base())
			m := hmac.New(sha256.New, pubDER)
			m.Write([]byte(in))
			return in + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
		}(), "invalid_token", "not valid", 401},
		{"wrong issuer", signed(func(c map[string]any) { c["iss"] = "https://evil.example.com" }), "wrong_issuer", "another sign-in provider", 401},
		{"wrong audience", signed(func(c map[string]any) { c["aud"] = []string{"some-other-api"} }), "wrong_audience", "another application", 401},
		{"expired", signed(func(c map[string]any) {
			c["exp"], c["iat"], c["nbf"] = now.Add(-time.Hour).Unix(), now.Add(-2*time.Hour).Unix(), now.Add(-2*time.Hour).Unix()
		}), "token_expired", "expired", 401},
		{"not yet valid (3 min)", signed(func(c map[string]any) { c["nbf"] = now.Add(3 * time.Minute).Unix() }), "token_not_yet_valid", "clocks", 401},
		{"not yet valid (1 h)", signed(func(c map[string]any) { c["nbf"] = now.Add(time.Hour).Unix() }), "token_not_yet_valid", "clocks", 401},
		{"wrong tenant", signed(func(c map[string]any) { c["tid"] = "99999999-9999-9999-9999-999999999999" }), "wrong_tenant", "another organization", 403},
		{"missing scope", signed(func(c map[string]any) { delete(c, "scp"); c["scope"] = "openid profile" }), "insufficient_scope", "scope vpn.connect", 403},
		{"wrong scope", signed(func(c map[string]any) { c["scp"] = "other.scope" }), "insufficient_scope", "will not help", 403},
		{"missing role", signed(func(c map[string]any) { delete(c, "roles") }), "not_allowed", "ask your admin to add you to VPN Users", 403},
		{"graph audience (URL)", signed(func(c map[string]any) { c["aud"] = "https://graph.microsoft.com" }), "graph_token", "Microsoft Graph", 401},
		{"graph audience (app id)", signed(func(c map[string]any) { c["aud"] = []string{entratest.GraphAppID} }), "graph_token", "Microsoft Graph", 401},
		{"oversized", strings.Repeat("a", 20000), "invalid_token", "not valid", 401},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			id, err := v.Verify(t.Context(), tc.token)
			wantRefusal(t, id, err, tc.status, tc.code, tc.msg)
		})
	}
}

func TestClockAndKeyRotation(t *testing.T) {
	ts := devidp.NewTestServer(t, devidp.Options{AccessTokenLifetime: time.Hour})
	cfg := devConfig(ts)
	later := time.Now().Add(2 * time.Hour)
	cfg.Now = func() time.Time { return later }
	tok, _ := ts.MintAccessToken(devidp.UserDemo)
	id, err := newVerifier(t, cfg).Verify(t.Context(), tok)
	wantRefusal(t, id, err, 401, "token_expired", "expired")

	cfg = devConfig(ts)
	cfg.KeysRefetchInterval = 300 * time.Millisecond
	v := newVerifier(t, cfg)
	if _, err := v.Verify(t.Context(), tok); err != nil {
		t.Fatal(err)
	}
	if err := ts.RotateKey(); err != nil {
		t.Fatal(err)
	}
	tok2, _ := ts.MintAccessToken(devidp.UserDemo)
	if headerKid(t, tok2) == headerKid(t, tok) {
		t.Fatal("rotation kept the kid")
	}
	// A token with the new kid is accepted once the rate limit allows a
	// fetch; until then it is "try again" (503), never "sign in again".
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, err := v.Verify(t.Context(), tok2)
		if err == nil {
			break
		}
		var ve *verify.Error
		if !errors.As(err, &ve) || ve.Status != 503 || time.Now().After(deadline) {
			t.Fatalf("token with a new kid: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestEntraV2(t *testing.T) {
	s := entratest.New(t, entratest.Options{})
	cfg := verify.EntraConfig(s.TenantID, s.APIAppID)
	cfg.HTTPClient = s.HTTPClient()
	v := newVerifier(t, cfg)
	if err := v.Ready(t.Context()); err != nil {
		t.Fatal(err)
	}
	tok, _ := s.AccessToken(entratest.UserDemo)
	id, err := v.Verify(t.Context(), tok)
	if err != nil {
		t.Fatalf("entra v2 token refused: %v", err)
	}
	u, _ := s.User(entratest.UserDemo)
	if id.Subject != s.Issuer()+"#"+s.TenantID+"/"+u.ObjectID || id.TenantID != s.TenantID || id.ObjectID != u.ObjectID || id.Admin {
		t.Fatalf("identity %+v", id)
	}
	tok, _ = s.AccessToken(entratest.UserAdmin)
	if id, err := v.Verify(t.Context(), tok); err != nil || !id.Admin {
		t.Fatalf("admin %+v %v", id, err)
	}
	tok, _ = s.GraphToken(entratest.UserDemo)
	id, err = v.Verify(t.Context(), tok)
	wantRefusal(t, id, err, 401, "graph_token", "api://<api-app-id>/vpn.connect")

	// v1 issuer (API app without requestedAccessTokenVersion: 2).
	c, _ := s.AccessTokenClaims(entratest.UserDemo)
	c["iss"], c["ver"] = "https://sts.windows.net/"+s.TenantID+"/", "1.0"
	tok, _ = s.Sign(c)
	id, err = v.Verify(t.Context(), tok)
	wantRefusal(t, id, err, 401, "wrong_issuer", "another sign-in provider")

	// Another tenant's token, with its own issuer.
	c, _ = s.AccessTokenClaims(entratest.UserDemo)
	c["tid"] = "11111111-2222-3333-4444-555555555555"
	tok, _ = s.Sign(c)
	id, err = v.Verify(t.Context(), tok)
	wantRefusal(t, id, err, 403, "wrong_tenant", "another organization")
}

func TestEntraGroupOverage(t *testing.T) {
	s := entratest.New(t, entratest.Options{})
	cfg := verify.EntraConfig(s.TenantID, s.APIAppID)
	cfg.HTTPClient = s.HTTPClient()
	cfg.AllowedRoles, cfg.AllowedGroups, cfg.AccessName = nil, []string{entratest.GroupVPN}, "VPN Users"
	v := newVerifier(t, cfg)
	tok, _ := s.AccessToken(entratest.UserDemo)
	if _, err := v.Verify(t.Context(), tok); err != nil {
		t.Fatalf("member by group refused: %v", err)
	}
	tok, _ = s.AccessToken(entratest.UserOverage)
	id, err := v.Verify(t.Context(), tok)
	wantRefusal(t, id, err, 403, "group_overage", "app role")
	tok, _ = s.AccessToken(entratest.UserOutsider)
	id, err = v.Verify(t.Context(), tok)
	wantRefusal(t, id, err, 403, "not_allowed", "ask your admin to add you to VPN Users")
}

func TestIssuerUnreachableThenBack(t *testing.T) {
	ts := devidp.NewTestServer(t, devidp.Options{})
	tok, _ := ts.MintAccessToken(devidp.UserDemo)
	cfg := devConfig(ts)
	// The issuer answers 502 until it "comes back", through a front on loopback.
	var down atomic.Bool
	down.Store(true)
	front := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if down.Load() {
			http.Error(w, "down", http.StatusBadGateway)
			return
		}
		ts.Handler().ServeHTTP(w, r)
	}))
	front.TLS = ts.Server.TLS
	front.StartTLS()
	defer front.Close()
	cfg.DiscoveryURL = front.URL
	cfg.HTTPClient = front.Client()
	v := newVerifier(t, cfg)
	if v.Ready(t.Context()) == nil {
		t.Fatal("ready while the issuer is down")
	}
	id, err := v.Verify(t.Context(), tok)
	wantRefusal(t, id, err, 503, "unavailable", "cannot reach the sign-in provider")
	down.Store(false)
	time.Sleep(2100 * time.Millisecond) // the retry back-off
	if _, err := v.Verify(t.Context(), tok); err != nil {
		t.Fatalf("after the issuer came back: %v", err)
	}
}

func TestConfigErrors(t *testing.T) {
	for name, cfg := range map[string]verify.Config{
		"no issuer":   {Audience: "a", AllowAnyUser: true},
		"no audience": {Issuer: "https://x.example", AllowAnyUser: true},
		"no rule":     {Issuer: "https://x.example", Audience: "a"},
		"HS256":       {Issuer: "https://x.example", Audience: "a", AllowAnyUser: true, SigningAlgs: []string{"HS256"}},
	} {
		if _, err := verify.New(t.Context(), cfg); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func BenchmarkVerify(b *testing.B) {
	ts := devidp.NewTestServer(b, devidp.Options{})
	v, err := verify.New(b.Context(), verify.Config{Issuer: ts.Issuer(), Audience: ts.Audience(), RequiredScope: ts.APIScope(),
		AllowedRoles: []string{devidp.RoleUser}, HTTPClient: ts.HTTPClient()})
	if err != nil {
		b.Fatal(err)
	}
	tok, _ := ts.MintAccessToken(devidp.UserDemo)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := v.Verify(b.Context(), tok); err != nil {
			b.Fatal(err)
		}
	}
}
