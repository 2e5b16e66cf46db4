package entratest_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/AzureAD/microsoft-authentication-library-for-go/apps/public"

	"github.com/ghostwire/ghostwire/auth/devidp/entratest"
)

// TestMSALDeviceCodeAndRefresh checks the fake speaks what MSAL for Go
// expects, using the production authority URL through the fake's client.
func TestMSALDeviceCodeAndRefresh(t *testing.T) {
	s := entratest.New(t, entratest.Options{AccessTokenLifetime: time.Minute})
	app, err := public.New(s.ClientID, public.WithAuthority(s.Authority()), public.WithHTTPClient(s.HTTPClient()))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	dc, err := app.AcquireTokenByDeviceCode(ctx, []string{s.Scope()})
	if err != nil {
		t.Fatalf("device code: %v", err)
	}
	if err := s.Approve(dc.Result.UserCode, entratest.UserDemo); err != nil {
		t.Fatal(err)
	}
	res, err := dc.AuthenticationResult(ctx)
	if err != nil {
		t.Fatalf("device result: %v", err)
	}
	c := payload(t, res.AccessToken)
	if c["aud"] != s.APIAppID || c["iss"] != s.Issuer() || c["tid"] != s.TenantID || c["scp"] != "vpn.connect" {
		t.Fatalf("claims %v", c)
	}
	if res.Account.PreferredUsername != entratest.UserDemo {
		t.Errorf("account %+v", res.Account)
	}
	// Lifetime under 5 minutes: silent refreshes with the refresh token.
	res2, err := app.AcquireTokenSilent(ctx, []string{s.Scope()}, public.WithSilentAccount(res.Account))
	if err != nil {
		t.Fatalf("silent: %v", err)
	}
	if res2.AccessToken == res.AccessToken || s.TokenRequests("refresh_token") != 1 {
		t.Fatalf("silent did not refresh (refresh grants: %d)", s.TokenRequests("refresh_token"))
	}
	s.RevokeRefreshTokens()
	if _, err := app.AcquireTokenSilent(ctx, []string{s.Scope()}, public.WithSilentAccount(res.Account)); err == nil {
		t.Fatal("silent succeeded after revocation")
	}
}

func TestOverageAndGraphShapes(t *testing.T) {
	s := entratest.New(t, entratest.Options{})
	tok, err := s.AccessToken(entratest.UserOverage)
	if err != nil {
		t.Fatal(err)
	}
	c := payload(t, tok)
	if c["groups"] != nil || c["_claim_names"] == nil || !strings.Contains(toJSON(c["_claim_sources"]), "getMemberObjects") {
		t.Fatalf("overage claims %v", c)
	}
	g, _ := s.GraphToken(entratest.UserDemo)
	if payload(t, g)["aud"] != entratest.GraphAppID {
		t.Fatal("graph token aud")
	}
}

func toJSON(v any) string { b, _ := json.Marshal(v); return string(b) }

func payload(t *testing.T, jwt string) map[string]any {
	t.Helper()
	p := strings.Split(jwt, ".")
	if len(p) != 3 {
		t.Fatalf("not a JWT")
	}
	b, err := base64.RawURLEncoding.DecodeString(p[1])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	return m
}
