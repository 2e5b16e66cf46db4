// Package testissuer is a token issuer whose key set the test controls: it
// serves OpenID discovery and a JWKS over HTTP and signs tokens with keys
// the test adds, withdraws, rotates or makes unreachable, and it counts the
// JWKS fetches. The token verifier's and the server's tests use it to prove
// how the server treats its issuer (rotation, withdrawal, outage, floods of
// unknown key ids). For sign-in flows use auth/devidp, the full provider.
package testissuer

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// Issuer is the test's issuer. Safe for concurrent use.
type Issuer struct {
	srv *httptest.Server
	url string

	mu           sync.Mutex
	signing      map[string]*rsa.PrivateKey // kid → key
	published    []string                   // kids in the JWKS, in order
	current      string                     // kid that Sign uses
	jwksStatus   int                        // 0: serve the JWKS; else answer this status
	cacheControl string
	delay        time.Duration

	fetches atomic.Int64
}

// New starts an issuer on 127.0.0.1 with one published signing key.
func New(t testing.TB) *Issuer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return Serve(t, ln)
}

// Serve is New on a listener of the test's choosing (for example one inside
// a network namespace). Issuer() is http://<listener address>.
func Serve(t testing.TB, ln net.Listener) *Issuer {
	t.Helper()
	is := &Issuer{signing: map[string]*rsa.PrivateKey{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", is.serveDiscovery)
	mux.HandleFunc("GET /keys", is.serveKeys)
	is.srv = &httptest.Server{Listener: ln, Config: &http.Server{Handler: mux}}
	is.srv.Start()
	t.Cleanup(is.srv.Close)
	is.url = is.srv.URL
	is.current = is.AddKey(t)
	return is
}

// Issuer is the issuer URL (also the discovery base).
func (is *Issuer) Issuer() string { return is.url }

// Client is an HTTP client for the issuer.
func (is *Issuer) Client() *http.Client { return is.srv.Client() }

// JWKSFetches is how many times the JWKS was asked for.
func (is *Issuer) JWKSFetches() int64 { return is.fetches.Load() }

// AddKey makes a new RSA key, publishes it in the JWKS and returns its kid;
// Sign keeps using the current key until Use.
func (is *Issuer) AddKey(t testing.TB) string {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	is.mu.Lock()
	defer is.mu.Unlock()
	kid := fmt.Sprintf("k%d", len(is.signing)+1)
	is.signing[kid] = k
	is.published = append(is.published, kid)
	return kid
}

// Use makes Sign sign with kid from now on.
func (is *Issuer) Use(kid string) { is.mu.Lock(); is.current = kid; is.mu.Unlock() }

// Current is the kid Sign uses.
func (is *Issuer) Current() string { is.mu.Lock(); defer is.mu.Unlock(); return is.current }

// Withdraw removes kid from the JWKS (the issuer can still sign with it, as
// an attacker holding a leaked key could).
func (is *Issuer) Withdraw(kid string) {
	is.mu.Lock()
	defer is.mu.Unlock()
	for i, k := range is.published {
		if k == kid {
			is.published = append(is.published[:i:i], is.published[i+1:]...)
			return
		}
	}
}

// FailJWKS makes the JWKS answer status (0: serve it again).
func (is *Issuer) FailJWKS(status int) { is.mu.Lock(); is.jwksStatus = status; is.mu.Unlock() }

// SetCacheControl sets the Cache-Control header of the JWKS answer.
func (is *Issuer) SetCacheControl(v string) { is.mu.Lock(); is.cacheControl = v; is.mu.Unlock() }

// SetDelay delays every JWKS answer (to make concurrent misses overlap).
func (is *Issuer) SetDelay(d time.Duration) { is.mu.Lock(); is.delay = d; is.mu.Unlock() }

// Claims are valid claims for subject: iss, sub, aud, exp in an hour, iat,
// nbf, and the extra ones given.
func (is *Issuer) Claims(sub, aud string, extra map[string]any) map[string]any {
	now := time.Now()
	c := map[string]any{"iss": is.url, "sub": sub, "aud": aud, "iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(time.Hour).Unix()}
	for k, v := range extra {
		c[k] = v
	}
	return c
}

// Sign signs claims (RS256) with the current key.
func (is *Issuer) Sign(t testing.TB, claims map[string]any) string {
	t.Helper()
	return is.SignWith(t, is.Current(), claims)
}

// SignWith signs claims with kid's key, published or not.
func (is *Issuer) SignWith(t testing.TB, kid string, claims map[string]any) string {
	t.Helper()
	b, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := is.SignPayload(kid, kid, b)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// SignPayload signs any payload bytes with the key of kid, naming headerKid
// in the header (which may be another or an unknown kid). For fuzzing.
func (is *Issuer) SignPayload(kid, headerKid string, payload []byte) (string, error) {
	is.mu.Lock()
	k := is.signing[kid]
	is.mu.Unlock()
	if k == nil {
		return "", fmt.Errorf("no key %q", kid)
	}
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: k, KeyID: headerKid}},
		(&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		return "", err
	}
	o, err := s.Sign(payload)
	if err != nil {
		return "", err
	}
	return o.CompactSerialize()
}

func (is *Issuer) serveDiscovery(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{
		"issuer": is.url, "jwks_uri": is.url + "/keys",
		"authorization_endpoint": is.url + "/authorize", "token_endpoint": is.url + "/token",
		"response_types_supported": []string{"code"}, "subject_types_supported": []string{"public"},
		"id_token_signing_alg_values_supported": []string{"RS256"},
	})
}

func (is *Issuer) serveKeys(w http.ResponseWriter, r *http.Request) {
	is.fetches.Add(1)
	is.mu.Lock()
	status, cc, delay := is.jwksStatus, is.cacheControl, is.delay
	var set jose.JSONWebKeySet
	for _, kid := range is.published {
		set.Keys = append(set.Keys, jose.JSONWebKey{Key: &is.signing[kid].PublicKey, KeyID: kid, Algorithm: "RS256", Use: "sig"})
	}
	is.mu.Unlock()
	if delay > 0 {
		time.Sleep(delay)
	}
	if status != 0 {
		http.Error(w, "keys unavailable", status)
		return
	}
	if cc != "" {
		w.Header().Set("Cache-Control", cc)
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(set)
}
