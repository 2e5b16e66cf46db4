package verify

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"golang.org/x/sync/singleflight"
)

// Bounds of the issuer's key set (docs/attack-surface.md states them).
const (
	// DefaultKeysMaxAge is how long a fetched JWKS is trusted at most: a
	// signing key the issuer withdraws is refused within this time.
	DefaultKeysMaxAge = 15 * time.Minute
	// DefaultKeysRefetchInterval is the least time between two fetches of
	// the JWKS, whatever the requests carry.
	DefaultKeysRefetchInterval = time.Minute
	// keysStaleFor is how long past its lifetime a key set stays in use
	// while the issuer cannot be reached; after that every token gets 503.
	keysStaleFor = time.Hour
	// maxJWKSBytes and maxJWKSKeys bound what is read from the issuer.
	maxJWKSBytes = 1 << 20
	maxJWKSKeys  = 100
)

// errUnknownKey: the token names a key the issuer does not publish (never
// did, or withdrew it). errBadSignature: the key is known, the signature is
// not its. Both are the token's fault (401).
var (
	errUnknownKey   = errors.New("the token's key id is not in the issuer's key set")
	errBadSignature = errors.New("bad signature")
)

// keysUnavailableError: the key set could not be fetched, so the token
// could not be checked (503: the client retries, it does not sign in again).
type keysUnavailableError struct {
	err   error
	retry time.Duration // when a fetch is allowed again (0: unknown)
}

func (e *keysUnavailableError) Error() string {
	return "issuer's key set unavailable: " + e.err.Error()
}
func (e *keysUnavailableError) Unwrap() error { return e.err }

// keyOutcome carries the key set's own error past go-oidc, which flattens
// it into a string; Verify reads it to tell 401 from 503.
type keyOutcome struct{ err error }
type keyOutcomeKey struct{}

// keySet is the issuer's JWKS as the verifier trusts it (an oidc.KeySet).
// Unlike go-oidc's RemoteKeySet, which fetches again on every token it
// cannot verify, it fetches
//   - when the set's lifetime ends (the issuer's Cache-Control max-age or
//     Expires, within [refetch, maxAge]), in the background;
//   - when a token names a kid that is not in the set, and only if the last
//     fetch is older than refetch: a flood of forged tokens costs the issuer
//     at most one request per interval, and a bad signature under a known
//     kid costs none;
//
// and every fetch is shared by everyone waiting for it (single flight).
type keySet struct {
	url      string
	hc       *http.Client
	ctx      context.Context // fetches use it, never a request's
	log      *slog.Logger
	algs     []jose.SignatureAlgorithm
	maxAge   time.Duration
	refetch  time.Duration
	staleFor time.Duration

	flight singleflight.Group

	mu      sync.Mutex
	keys    []jose.JSONWebKey
	have    bool      // a set was fetched at least once
	fetched time.Time // last successful fetch
	expires time.Time // end of the set's lifetime
	tried   time.Time // last fetch attempt, whatever its outcome
	lastErr error     // of that attempt
}

func newKeySet(ctx context.Context, url string, cfg *Config) *keySet {
	algs := make([]jose.SignatureAlgorithm, len(cfg.SigningAlgs))
	for i, a := range cfg.SigningAlgs {
		algs[i] = jose.SignatureAlgorithm(a)
	}
	return &keySet{url: url, hc: cfg.HTTPClient, ctx: ctx, log: cfg.Logger, algs: algs,
		maxAge: cfg.KeysMaxAge, refetch: cfg.KeysRefetchInterval, staleFor: keysStaleFor}
}

// VerifySignature implements oidc.KeySet. go-oidc has already checked the
// algorithm against the allowed ones and that there is one signature.
func (k *keySet) VerifySignature(ctx context.Context, jwt string) ([]byte, error) {
	payload, err := k.verify(ctx, jwt)
	if err != nil {
		if o, ok := ctx.Value(keyOutcomeKey{}).(*keyOutcome); ok {
			o.err = err
		}
	}
	return payload, err
}

func (k *keySet) verify(ctx context.Context, jwt string) ([]byte, error) {
	jws, err := jose.ParseSigned(jwt, k.algs)
	if err != nil || len(jws.Signatures) != 1 {
		return nil, errBadSignature
	}
	keys, err := k.usable(ctx)
	if err != nil {
		return nil, err
	}
	if payload, found, err := verifyWith(jws, keys); found {
		return payload, err
	}
	kid := jws.Signatures[0].Header.KeyID
	if kid == "" {
		// Without a kid no key verified it: nothing new to look for.
		return nil, errBadSignature
	}
	// A kid we do not hold: the issuer may have rotated. Ask it, at most
	// once per interval.
	asked, err := k.refresh(ctx)
	if err != nil {
		return nil, err
	}
	k.mu.Lock()
	keys, lastErr, fetched, retry := k.keys, k.lastErr, k.fetched, time.Until(k.tried.Add(k.refetch))
	k.mu.Unlock()
	if payload, found, err := verifyWith(jws, keys); found {
		return payload, err
	}
	switch {
	case lastErr != nil:
		// The issuer could not be asked: the kid may be a new, real one.
		return nil, &keysUnavailableError{err: lastErr, retry: retry}
	case asked || fetched.After(issuedAt(jws).Add(nbfLeeway)):
		// Absent from a set fetched for this token, or fetched after it
		// was issued (issuers publish a key before they sign with it).
		return nil, errUnknownKey
	}
	// Asked too recently to ask again, and the token may be newer than
	// the set: the client tries again when the interval allows a fetch.
	return nil, &keyNotYetError{retry: retry}
}

// keyNotYetError: the token names a kid absent from a set fetched before
// the token was issued, and the rate limit forbids asking again yet (503).
type keyNotYetError struct{ retry time.Duration }

func (e *keyNotYetError) Error() string {
	return "unknown key id, absent from the last key set; the next fetch is allowed in " + e.retry.Round(time.Second).String()
}

// issuedAt is the token's unverified iat (zero when absent): it only
// decides between "unknown key" and "try again", both refusals.
func issuedAt(jws *jose.JSONWebSignature) time.Time {
	var c struct {
		IAT json.Number `json:"iat"`
	}
	if json.Unmarshal(jws.UnsafePayloadWithoutVerification(), &c) != nil {
		return time.Time{}
	}
	f, err := c.IAT.Float64()
	if err != nil || f < 0 || f > 1<<40 {
		return time.Time{}
	}
	return time.Unix(int64(f), 0)
}

// verifyWith tries the keys with the token's kid (every key when it has
// none); found says whether any key was a candidate.
func verifyWith(jws *jose.JSONWebSignature, keys []jose.JSONWebKey) (payload []byte, found bool, err error) {
	h := jws.Signatures[0].Header
	for i := range keys {
		key := &keys[i]
		if h.KeyID != "" && key.KeyID != h.KeyID {
			continue
		}
		found = true
		if key.Algorithm != "" && key.Algorithm != h.Algorithm {
			continue
		}
		if p, err := jws.Verify(key); err == nil {
			return p, true, nil
		}
	}
	return nil, found, errBadSignature
}

// usable returns the keys to check a token with: the current set, or one
// past its lifetime while a refresh is due or failing (up to staleFor);
// only when there is none does the caller wait for a fetch.
func (k *keySet) usable(ctx context.Context) ([]jose.JSONWebKey, error) {
	k.mu.Lock()
	now := time.Now()
	ok := k.have && now.Before(k.expires.Add(k.staleFor))
	keys := k.keys
	k.mu.Unlock()
	if ok {
		return keys, nil
	}
	if _, err := k.refresh(ctx); err != nil {
		return nil, err
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if !k.have || !time.Now().Before(k.expires.Add(k.staleFor)) {
		why := k.lastErr
		if why == nil {
			why = errors.New("not fetched yet")
		}
		return nil, &keysUnavailableError{err: why}
	}
	return k.keys, nil
}

// refresh fetches the set unless an attempt was made less than refetch ago,
// sharing one fetch among all callers; asked says whether the issuer was
// asked. It waits at most until ctx ends.
func (k *keySet) refresh(ctx context.Context) (asked bool, err error) {
	ch := k.flight.DoChan("jwks", func() (any, error) { return k.fetch(), nil })
	select {
	case r := <-ch:
		return r.Val.(bool), nil
	case <-ctx.Done():
		return false, &keysUnavailableError{err: ctx.Err()}
	}
}

// fetch gets the JWKS if allowed now. The rate limit is checked here, inside
// the single flight, so two callers that both saw an old attempt still make
// one request.
func (k *keySet) fetch() (asked bool) {
	k.mu.Lock()
	if !k.tried.IsZero() && time.Since(k.tried) < k.refetch {
		k.mu.Unlock()
		return false
	}
	k.tried = time.Now()
	k.mu.Unlock()

	keys, life, err := k.get()
	k.mu.Lock()
	defer k.mu.Unlock()
	if err != nil {
		k.lastErr = err
		k.log.Warn("cannot fetch the token issuer's signing keys; keeping the last ones", "url", k.url, "error", err.Error(),
			"have_keys", k.have, "retry_in", k.refetch.String())
		return true
	}
	k.keys, k.have, k.lastErr = keys, true, nil
	k.fetched = time.Now()
	k.expires = k.fetched.Add(life)
	k.log.Info("fetched the token issuer's signing keys", "url", k.url, "keys", len(keys), "valid_for", life.String())
	return true
}

func (k *keySet) get() ([]jose.JSONWebKey, time.Duration, error) {
	req, err := http.NewRequestWithContext(k.ctx, http.MethodGet, k.url, nil)
	if err != nil {
		return nil, 0, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := k.hc.Do(req)
	if err != nil {
		return nil, 0, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxJWKSBytes+1))
	if err != nil {
		return nil, 0, fmt.Errorf("reading the key set: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, 0, fmt.Errorf("the key set URL answered %s", resp.Status)
	}
	if len(body) > maxJWKSBytes {
		return nil, 0, fmt.Errorf("the key set is larger than %d bytes", maxJWKSBytes)
	}
	keys, err := parseJWKS(body)
	if err != nil {
		return nil, 0, err
	}
	return keys, lifetime(resp.Header, time.Now(), k.refetch, k.maxAge), nil
}

// parseJWKS reads a JWK set: public signing keys (RSA, EC, Ed25519) only.
// Keys of other types or uses are skipped, as RFC 7517 §5 asks; symmetric
// keys are never used.
func parseJWKS(b []byte) ([]jose.JSONWebKey, error) {
	var raw struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return nil, fmt.Errorf("the key set is not a JWK set: %w", err)
	}
	if raw.Keys == nil {
		return nil, errors.New(`the key set has no "keys" array`)
	}
	if len(raw.Keys) > maxJWKSKeys {
		return nil, fmt.Errorf("the key set holds %d keys, more than %d", len(raw.Keys), maxJWKSKeys)
	}
	out := make([]jose.JSONWebKey, 0, len(raw.Keys))
	for _, r := range raw.Keys {
		var key jose.JSONWebKey
		if err := key.UnmarshalJSON(r); err != nil || (key.Use != "" && key.Use != "sig") {
			continue
		}
		switch key.Key.(type) {
		case *rsa.PublicKey, *ecdsa.PublicKey, ed25519.PublicKey:
		case *rsa.PrivateKey, *ecdsa.PrivateKey, ed25519.PrivateKey:
			key = key.Public() // published by mistake: use its public half only
		default:
			continue
		}
		out = append(out, key)
	}
	return out, nil
}

// lifetime is how long an answer may be kept: Cache-Control max-age (less
// Age), else Expires − Date, else maxAge; no-cache and no-store mean
// minAge; always within [minAge, maxAge].
func lifetime(h http.Header, now time.Time, minAge, maxAge time.Duration) time.Duration {
	d, set := maxAge, false
	for _, part := range strings.Split(strings.Join(h.Values("Cache-Control"), ","), ",") {
		name, val, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch strings.ToLower(name) {
		case "no-cache", "no-store":
			return minAge
		case "max-age":
			if n, ok := seconds(val); ok {
				d, set = n, true
			}
		}
	}
	if !set {
		if e := h.Get("Expires"); e != "" {
			set = true
			d = 0 // an invalid Expires means already expired (RFC 9111 §5.3)
			if exp, err := http.ParseTime(e); err == nil {
				base := now
				if date, err := http.ParseTime(h.Get("Date")); err == nil {
					base = date
				}
				d = exp.Sub(base)
			}
		}
	}
	if set {
		if age, ok := seconds(h.Get("Age")); ok {
			d -= age
		}
	}
	return min(max(d, minAge), maxAge)
}

// seconds reads a delta-seconds value; huge values saturate.
func seconds(s string) (time.Duration, bool) {
	n, err := strconv.ParseUint(strings.Trim(strings.TrimSpace(s), `"`), 10, 64)
	if err != nil && !errors.Is(err, strconv.ErrRange) {
		return 0, false
	}
	const most = 1 << 31 // RFC 9111 §1.2.2: 2^31 is "infinity"
	return time.Duration(min(n, most)) * time.Second, true
}

// run refreshes the set when its lifetime ends (or, after a failure, when
// the interval allows another attempt) until ctx ends.
func (k *keySet) run(ctx context.Context) {
	t := time.NewTimer(k.next())
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if k.due() {
			_, _, _ = k.flight.Do("jwks", func() (any, error) { return k.fetch(), nil })
		}
		t.Reset(k.next())
	}
}

func (k *keySet) due() bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	return !k.have || k.lastErr != nil || !time.Now().Before(k.expires)
}

// next is when run should look again.
func (k *keySet) next() time.Duration {
	k.mu.Lock()
	defer k.mu.Unlock()
	at := k.tried.Add(k.refetch)
	if k.have && k.lastErr == nil && k.expires.After(at) {
		at = k.expires
	}
	return max(time.Until(at), 10*time.Millisecond)
}

// ready is nil while a usable key set is held.
func (k *keySet) ready(ctx context.Context) error {
	_, err := k.usable(ctx)
	return err
}
