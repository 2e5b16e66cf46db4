package devidp_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/ghostwire/ghostwire/auth/devidp"
)

func claimsOf(t *testing.T, jwt string) map[string]any {
	t.Helper()
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %q", jwt)
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var c map[string]any
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	return c
}

func oauthConfig(ts *devidp.TestServer, redirect string) *oauth2.Config {
	return &oauth2.Config{
		ClientID: ts.ClientID(),
		Endpoint: oauth2.Endpoint{
			AuthURL:       ts.Issuer() + "/authorize",
			TokenURL:      ts.Issuer() + "/oauth/token",
			DeviceAuthURL: ts.Issuer() + "/device_authorization",
			AuthStyle:     oauth2.AuthStyleInParams,
		},
		RedirectURL: redirect,
		Scopes:      ts.Scopes(),
	}
}

func TestDiscovery(t *testing.T) {
	ts := devidp.NewTestServer(t, devidp.Options{})
	resp, err := ts.HTTPClient().Get(ts.Issuer() + "/.well-known/openid-configuration")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var d map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&d); err != nil {
		t.Fatal(err)
	}
	if d["issuer"] != ts.Issuer() {
		t.Errorf("issuer %v, want %s", d["issuer"], ts.Issuer())
	}
	for _, k := range []string{"jwks_uri", "device_authorization_endpoint", "token_endpoint", "authorization_endpoint"} {
		if s, _ := d[k].(string); !strings.HasPrefix(s, ts.Issuer()+"/") {
			t.Errorf("%s = %v", k, d[k])
		}
	}
	if !slices.Contains(toStrings(d["grant_types_supported"]), "urn:ietf:params:oauth:grant-type:device_code") {
		t.Errorf("device_code grant not advertised: %v", d["grant_types_supported"])
	}
}

func toStrings(v any) []string {
	var out []string
	for _, x := range v.([]any) {
		out = append(out, x.(string))
	}
	return out
}

// deviceFlow runs RFC 8628 with x/oauth2 and approves through approve.
func deviceFlow(t *testing.T, ts *devidp.TestServer, approve func(code string) error) (*oauth2.Token, error) {
	t.Helper()
	ctx := context.WithValue(t.Context(), oauth2.HTTPClient, ts.HTTPClient())
	cfg := oauthConfig(ts, "")
	da, err := cfg.DeviceAuth(ctx)
	if err != nil {
		t.Fatalf("device auth: %v", err)
	}
	if da.UserCode == "" || !strings.HasPrefix(da.VerificationURI, ts.Issuer()+"/device") {
		t.Fatalf("bad device response %+v", da)
	}
	if err := approve(da.UserCode); err != nil {
		t.Fatalf("approve: %v", err)
	}
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	return cfg.DeviceAccessToken(ctx, da)
}

func TestDeviceFlowClaimsAndRefresh(t *testing.T) {
	ts := devidp.NewTestServer(t, devidp.Options{PollInterval: time.Second})
	tok, err := deviceFlow(t, ts, func(code string) error { return ts.Approve(code, devidp.UserDemo) })
	if err != nil {
		t.Fatalf("device token: %v", err)
	}
	c := claimsOf(t, tok.AccessToken)
	u, _ := ts.User(devidp.UserDemo)
	checks := map[string]any{
		"iss": ts.Issuer(), "sub": u.Subject, "oid": u.ObjectID, "tid": devidp.DefaultTenantID,
		"preferred_username": devidp.UserDemo, "scp": "vpn.connect",
	}
	for k, want := range checks {
		if c[k] != want {
			t.Errorf("claim %s = %v, want %v", k, c[k], want)
		}
	}
	if !slices.Contains(toStrings(c["aud"]), devidp.DefaultAudience) {
		t.Errorf("aud %v lacks %s", c["aud"], devidp.DefaultAudience)
	}
	if !slices.Contains(toStrings(c["roles"]), devidp.RoleUser) || !slices.Contains(toStrings(c["groups"]), devidp.GroupVPNUsers) {
		t.Errorf("roles %v groups %v", c["roles"], c["groups"])
	}
	if !strings.Contains(c["scope"].(string), "vpn.connect") {
		t.Errorf("scope %v", c["scope"])
	}
	if tok.RefreshToken == "" {
		t.Fatal("no refresh token (offline_access requested)")
	}

	// Refresh rotates: the new token works, the old one is refused.
	ctx := context.WithValue(t.Context(), oauth2.HTTPClient, ts.HTTPClient())
	cfg := oauthConfig(ts, "")
	old := tok.RefreshToken
	tok2, err := cfg.TokenSource(ctx, &oauth2.Token{RefreshToken: old}).Token()
	if err != nil {
		t.Fatalf("refresh: %v", err)
	}
	if tok2.AccessToken == tok.AccessToken || tok2.RefreshToken == old || tok2.RefreshToken == "" {
		t.Fatal("refresh did not issue new tokens")
	}
	if claimsOf(t, tok2.AccessToken)["sub"] != u.Subject {
		t.Error("refreshed token has another subject")
	}
	_, err = cfg.TokenSource(ctx, &oauth2.Token{RefreshToken: old}).Token()
	assertInvalidGrant(t, err)

	// Revoking the user refuses the current refresh token too.
	if err := ts.RevokeUser(devidp.UserDemo); err != nil {
		t.Fatal(err)
	}
	_, err = cfg.TokenSource(ctx, &oauth2.Token{RefreshToken: tok2.RefreshToken}).Token()
	assertInvalidGrant(t, err)
}

func assertInvalidGrant(t *testing.T, err error) {
	t.Helper()
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) || re.ErrorCode != "invalid_grant" {
		t.Fatalf("want invalid_grant, got %v", err)
	}
}

func TestDeviceFlowApproveOverHTTPAndDeny(t *testing.T) {
	ts := devidp.NewTestServer(t, devidp.Options{PollInterval: time.Second})
	post := func(path, body string) int {
		resp, err := ts.HTTPClient().Post(ts.Issuer()+path, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	tok, err := deviceFlow(t, ts, func(code string) error {
		if st := post("/dev/approve", `{"user_code":"`+code+`","user":"nobody@example.com"}`); st != http.StatusBadRequest {
			t.Errorf("unknown user: status %d, want 400", st)
		}
		if st := post("/dev/approve", `{"user_code":"ZZZZ-ZZZZ","user":"demo@example.com"}`); st != http.StatusNotFound {
			t.Errorf("unknown code: status %d, want 404", st)
		}
		resp, err := ts.HTTPClient().Get(ts.Issuer() + "/dev/pending")
		if err != nil {
			return err
		}
		var pending struct {
			UserCodes []string `json:"user_codes"`
		}
		_ = json.NewDecoder(resp.Body).Decode(&pending)
		resp.Body.Close()
		if !slices.Contains(pending.UserCodes, code) {
			t.Errorf("pending %v lacks %s", pending.UserCodes, code)
		}
		// lower case without the dash is accepted too
		if st := post("/dev/approve", `{"user_code":"`+strings.ToLower(strings.ReplaceAll(code, "-", ""))+`","user":"admin@example.com"}`); st != http.StatusNoContent {
			t.Errorf("approve: status %d", st)
		}
		if st := post("/dev/approve", `{"user_code":"`+code+`","user":"admin@example.com"}`); st != http.StatusNotFound {
			t.Errorf("second approve: status %d, want 404", st)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := claimsOf(t, tok.AccessToken)["preferred_username"]; got != devidp.UserAdmin {
		t.Errorf("user %v", got)
	}

	_, err = deviceFlow(t, ts, func(code string) error {
		if st := post("/dev/deny", `{"user_code":"`+code+`"}`); st != http.StatusNoContent {
			t.Errorf("deny: status %d", st)
		}
		return nil
	})
	assertErrorCode(t, err, "access_denied")
}

func assertErrorCode(t *testing.T, err error, code string) {
	t.Helper()
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) || re.ErrorCode != code {
		t.Fatalf("want %s, got %v", code, err)
	}
}

func TestAuthCodePKCEFollowingRedirects(t *testing.T) {
	ts := devidp.NewTestServer(t, devidp.Options{})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	codes := make(chan url.Values, 1)
	cb := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		codes <- r.URL.Query()
		_, _ = w.Write([]byte("ok"))
	})}
	go func() { _ = cb.Serve(ln) }()
	t.Cleanup(func() { _ = cb.Close() })

	cfg := oauthConfig(ts, "http://"+ln.Addr().String()+"/callback")
	verifier := oauth2.GenerateVerifier()
	authURL := cfg.AuthCodeURL("st4te", oauth2.S256ChallengeOption(verifier))

	hc := ts.HTTPClient()
	resp, err := hc.Get(authURL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.Request.URL.Path != "/login" || resp.StatusCode != http.StatusOK {
		t.Fatalf("authorize led to %s (%d), want the login page", resp.Request.URL, resp.StatusCode)
	}
	id := resp.Request.URL.Query().Get("authRequestID")
	resp, err = hc.PostForm(ts.Issuer()+"/login", url.Values{"authRequestID": {id}, "user": {devidp.UserDemo}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	got := <-codes
	if got.Get("state") != "st4te" || got.Get("code") == "" {
		t.Fatalf("callback got %v", got)
	}
	ctx := context.WithValue(t.Context(), oauth2.HTTPClient, hc)
	if _, err := cfg.Exchange(ctx, got.Get("code"), oauth2.VerifierOption("wrong-verifier-wrong-verifier-wrong-verifier")); err == nil {
		t.Fatal("exchange with a wrong PKCE verifier succeeded")
	}
	// A failed exchange burns nothing else; a fresh login is needed for a new code.
	resp, err = hc.Get(authURL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	resp, err = hc.PostForm(ts.Issuer()+"/login", url.Values{"authRequestID": {resp.Request.URL.Query().Get("authRequestID")}, "user": {devidp.UserDemo}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	got = <-codes
	tok, err := cfg.Exchange(ctx, got.Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	c := claimsOf(t, tok.AccessToken)
	if c["preferred_username"] != devidp.UserDemo || c["scp"] != "vpn.connect" || tok.RefreshToken == "" {
		t.Fatalf("claims %v refresh %q", c, tok.RefreshToken)
	}
	if _, err := cfg.Exchange(ctx, got.Get("code"), oauth2.VerifierOption(verifier)); err == nil {
		t.Fatal("a code was accepted twice")
	}
}

func TestRedirectMustBeLoopback(t *testing.T) {
	ts := devidp.NewTestServer(t, devidp.Options{})
	cfg := oauthConfig(ts, "http://evil.example.com/callback")
	hc := ts.HTTPClient()
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := hc.Get(cfg.AuthCodeURL("s", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if loc := resp.Header.Get("Location"); strings.Contains(loc, "evil.example.com") {
		t.Fatalf("redirected to a non-loopback URI: %s", loc)
	}
}

func TestMintAndShortLifetime(t *testing.T) {
	ts := devidp.NewTestServer(t, devidp.Options{AccessTokenLifetime: 2 * time.Second})
	tok, err := ts.MintAccessToken(devidp.UserOutsider)
	if err != nil {
		t.Fatal(err)
	}
	c := claimsOf(t, tok)
	if c["roles"] != nil || c["groups"] != nil || c["preferred_username"] != devidp.UserOutsider {
		t.Errorf("outsider claims %v", c)
	}
	exp, iat := c["exp"].(float64), c["iat"].(float64)
	if d := exp - iat; d < 1 || d > 3 {
		t.Errorf("lifetime %vs, want 2s", d)
	}
	if _, err := ts.MintAccessToken("nobody@example.com"); !errors.Is(err, devidp.ErrUnknownUser) {
		t.Errorf("unknown user: %v", err)
	}
}

func TestRefreshTokenExpires(t *testing.T) {
	ts := devidp.NewTestServer(t, devidp.Options{PollInterval: time.Second, RefreshTokenLifetime: time.Second})
	tok, err := deviceFlow(t, ts, func(code string) error { return ts.Approve(code, devidp.UserDemo) })
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(1100 * time.Millisecond)
	ctx := context.WithValue(t.Context(), oauth2.HTTPClient, ts.HTTPClient())
	_, err = oauthConfig(ts, "").TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
	assertInvalidGrant(t, err)
}
