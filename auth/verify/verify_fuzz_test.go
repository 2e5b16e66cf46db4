package verify_test

import (
	"encoding/base64"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ghostwire/ghostwire/auth/verify"
	"github.com/ghostwire/ghostwire/internal/testissuer"
)

// Fuzz targets for what a token's sender controls. `make fuzz` runs each for
// a while; `go test` runs the seeds and testdata/fuzz.

// checkOutcome: every refusal is a *verify.Error with a status a client
// can act on and a message for a person; an identity always has a subject
// under the issuer.
func checkOutcome(t *testing.T, issuer string, id *verify.Identity, err error) {
	t.Helper()
	if err != nil {
		var ve *verify.Error
		if !errors.As(err, &ve) || (ve.Status != 401 && ve.Status != 403 && ve.Status != 503) || ve.Message == "" || id != nil {
			t.Fatalf("refusal %T %v (identity %+v)", err, err, id)
		}
		return
	}
	if id == nil || !strings.HasPrefix(id.Subject, issuer+"#") || len(id.Subject) == len(issuer)+1 {
		t.Fatalf("identity %+v", id)
	}
}

func fuzzVerifier(f *testing.F) (*testissuer.Issuer, *verify.Verifier) {
	is := testissuer.New(f)
	cfg := verify.Config{Issuer: is.Issuer(), Audience: testAudience, RequiredScope: "vpn.connect", AllowedRoles: []string{"VPN.User"},
		AdminRoles: []string{"VPN.Admin"}, TenantID: "t1", HTTPClient: is.Client()}
	v, err := verify.New(f.Context(), cfg)
	if err != nil {
		f.Fatal(err)
	}
	if err := v.Ready(f.Context()); err != nil {
		f.Fatal(err)
	}
	return is, v
}

// FuzzVerifyToken: any string as the bearer token (header, payload and
// signature all attacker-made).
func FuzzVerifyToken(f *testing.F) {
	is, v := fuzzVerifier(f)
	good := is.Sign(f, is.Claims("alice", testAudience, map[string]any{"scp": "vpn.connect", "roles": []string{"VPN.User"}}))
	seg := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
	for _, s := range []string{good, "", "a.b.c", "....", good + "x", strings.Replace(good, ".", "..", 1),
		seg(`{"alg":"none"}`) + "." + seg(`{"sub":"x"}`) + ".",
		seg(`{"alg":"RS256","kid":"k1","crit":["exp"]}`) + "." + seg(`{}`) + ".c2ln",
		seg(`{"alg":"HS256","kid":"k1"}`) + "." + seg(`{"iss":"x"}`) + ".c2ln",
		seg(`{"alg":"RS256","kid":"`+strings.Repeat("k", 300)+`"}`) + "." + seg(`{"aud":"`+testAudience+`"}`) + ".c2ln",
		seg(`{"alg":"RS256","jwk":{"kty":"oct","k":"c2VjcmV0"}}`) + "." + seg(`{"aud":["https://graph.microsoft.com"]}`) + ".c2ln"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		id, err := v.Verify(t.Context(), raw)
		checkOutcome(t, is.Issuer(), id, err)
		signed := func(tok string) string { return tok[:max(strings.LastIndexByte(tok, '.'), 0)] }
		if err == nil && signed(strings.TrimSpace(raw)) != signed(good) {
			// Only what the issuer signed gets through (the signature's own
			// base64 may vary in its unused last bits).
			t.Fatalf("an unsigned variation was accepted: %q", raw)
		}
	})
}

// FuzzVerifyClaims: any payload, validly signed by the issuer's key (what a
// buggy or hostile issuer could send): the claims handling must never
// panic, and an identity must satisfy every rule.
func FuzzVerifyClaims(f *testing.F) {
	is, v := fuzzVerifier(f)
	exp := time.Now().Add(24 * time.Hour).Unix()
	for _, s := range []string{
		`{"iss":"ISS","aud":"AUD","sub":"alice","exp":EXP,"scp":"vpn.connect","roles":["VPN.User"]}`,
		`{"iss":"ISS","aud":["AUD","x"],"sub":"alice","exp":EXP,"scp":["vpn.connect"],"roles":"VPN.User VPN.Admin","tid":"t1","oid":"o1"}`,
		`{"iss":"ISS","aud":"AUD","exp":EXP,"scope":"vpn.connect","roles":["VPN.User"],"tid":"T1","oid":""}`,
		`{"iss":"ISS","aud":"AUD","sub":"a","exp":EXP,"nbf":1e300,"scp":"vpn.connect","roles":["VPN.User"]}`,
		`{"iss":"ISS","aud":"AUD","sub":"a","exp":1e300,"iat":-1,"scp":"vpn.connect","roles":[1,null,{}],"groups":"x"}`,
		`{"iss":"ISS","aud":"AUD","sub":"a","exp":EXP,"_claim_names":{"groups":"src1"},"_claim_sources":{"src1":{"endpoint":"http://x"}}}`,
		`{"iss":"ISS","aud":"AUD","sub":"a","exp":EXP,"scp":"vpn.connect","roles":["VPN.User"],"preferred_username":"\u001b[31mred"}`,
		`[]`, `null`, `{"exp":"soon"}`,
	} {
		f.Add([]byte(strings.NewReplacer("ISS", is.Issuer(), "AUD", testAudience, "EXP", strconv.FormatInt(exp, 10)).Replace(s)))
	}
	f.Fuzz(func(t *testing.T, payload []byte) {
		tok, err := is.SignPayload(is.Current(), is.Current(), payload)
		if err != nil {
			t.Skip()
		}
		id, err := v.Verify(t.Context(), tok)
		checkOutcome(t, is.Issuer(), id, err)
		if err == nil && !strings.Contains(strings.Join(id.Roles, " "), "VPN.User") {
			t.Fatalf("accepted without the allowed role: %+v", id)
		}
		if err == nil && id.ObjectID != "" && !strings.HasPrefix(id.Subject, is.Issuer()+"#t1/") {
			t.Fatalf("an oid outside Entra's rule: %+v", id)
		}
	})
}

// FuzzJWKSAnswer: any JWKS body and cache headers from the issuer (or
// whoever answers for it): never a panic, and the key set is only ever
// what the issuer served.
func FuzzJWKSAnswer(f *testing.F) {
	f.Add([]byte(`{"keys":[]}`), "max-age=60", "", "")
	f.Add([]byte(`{"keys":[{"kty":"RSA","kid":"x","n":"AQAB","e":"AQAB"}]}`), "no-cache", "Thu, 01 Jan 1970 00:00:00 GMT", "-1")
	f.Add([]byte(`{"keys":[{"kty":"EC","crv":"P-256","x":"","y":""},{"kty":"oct","k":"AA"},{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}`), "max-age=99999999999999999999", "garbage", "99999999999999999999")
	f.Add([]byte(`{"keys":null}`), "", "", "")
	f.Fuzz(func(t *testing.T, body []byte, cacheControl, expires, age string) {
		verify.CheckJWKSAnswer(t, body, http.Header{"Cache-Control": {cacheControl}, "Expires": {expires}, "Age": {age}})
	})
}
