package verify_test

import (
	"errors"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/ghostwire/ghostwire/auth/verify"
	"github.com/ghostwire/ghostwire/internal/testissuer"
)

const testAudience = "api://ghostwire-test"

func issuerConfig(is *testissuer.Issuer) verify.Config {
	return verify.Config{Issuer: is.Issuer(), Audience: testAudience, AllowAnyUser: true, HTTPClient: is.Client()}
}

func status(err error) int {
	var ve *verify.Error
	if errors.As(err, &ve) {
		return ve.Status
	}
	if err == nil {
		return 200
	}
	return -1
}

// waitFor polls cond every 20 ms until it holds or 15 s pass (a generous
// bound: the machines are shared).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting: %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Tokens the issuer never signed cost it nothing beyond one fetch per
// interval: unknown kids, sequential or all at once, and bad signatures
// under the known kid (issue 10: 50 requests made 50 fetches).
func TestKeySetFloodOfUnknownKids(t *testing.T) {
	is := testissuer.New(t)
	cfg := issuerConfig(is)
	// The default refetch interval (a minute) outlasts the test.
	v := newVerifier(t, cfg)
	good := is.Sign(t, is.Claims("alice", testAudience, nil))
	if _, err := v.Verify(t.Context(), good); err != nil {
		t.Fatal(err)
	}
	base := is.JWKSFetches()
	if base != 1 {
		t.Fatalf("%d fetches at start, want 1", base)
	}
	// An attacker's key, with fresh kids every time, sequential.
	rogue := is.AddKey(t)
	is.Withdraw(rogue)
	for i := 0; i < 50; i++ {
		tok, err := is.SignPayload(rogue, fmt.Sprintf("forged-%d", i), []byte(fmt.Sprintf(`{"iss":%q,"sub":"x","aud":%q,"exp":%d}`,
			is.Issuer(), testAudience, time.Now().Add(time.Hour).Unix())))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := v.Verify(t.Context(), tok); status(err) != 401 && status(err) != 503 {
			t.Fatalf("forged token %d: %v", i, err)
		}
	}
	// Bad signatures under the known kid.
	for i := 0; i < 50; i++ {
		tok, _ := is.SignPayload(rogue, is.Current(), []byte(fmt.Sprintf(`{"iss":%q,"sub":"x","aud":%q,"exp":%d,"n":%d}`,
			is.Issuer(), testAudience, time.Now().Add(time.Hour).Unix(), i)))
		if _, err := v.Verify(t.Context(), tok); status(err) != 401 {
			t.Fatalf("bad signature under the known kid: %v", err)
		}
	}
	// 200 at once.
	var wg sync.WaitGroup
	for i := 0; i < 200; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tok, _ := is.SignPayload(rogue, fmt.Sprintf("burst-%d", i), []byte(`{"sub":"x"}`))
			_, _ = v.Verify(t.Context(), tok)
		}()
	}
	wg.Wait()
	if n := is.JWKSFetches() - base; n != 0 {
		t.Fatalf("%d JWKS fetches for 300 forged tokens within the refetch interval, want 0", n)
	}
	if _, err := v.Verify(t.Context(), good); err != nil {
		t.Fatalf("a good token after the flood: %v", err)
	}
}

// Once the interval has passed, a burst of unknown kids makes exactly one
// fetch, shared by everyone waiting (single flight inside the rate limit).
func TestKeySetOneFetchPerInterval(t *testing.T) {
	is := testissuer.New(t)
	cfg := issuerConfig(is)
	cfg.KeysRefetchInterval = 300 * time.Millisecond
	cfg.KeysMaxAge = time.Hour
	v := newVerifier(t, cfg)
	if err := v.Ready(t.Context()); err != nil {
		t.Fatal(err)
	}
	rogue := is.AddKey(t)
	is.Withdraw(rogue)
	is.SetDelay(200 * time.Millisecond) // the fetch is in flight while the burst arrives
	time.Sleep(400 * time.Millisecond)
	base := is.JWKSFetches()
	var wg sync.WaitGroup
	codes := make([]int, 100)
	for i := range codes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tok, _ := is.SignPayload(rogue, fmt.Sprintf("burst-%d", i), []byte(fmt.Sprintf(`{"iss":%q,"sub":"x","aud":%q,"exp":%d}`,
				is.Issuer(), testAudience, time.Now().Add(time.Hour).Unix())))
			_, err := v.Verify(t.Context(), tok)
			codes[i] = status(err)
		}()
	}
	wg.Wait()
	if n := is.JWKSFetches() - base; n != 1 {
		t.Fatalf("%d fetches for a burst of 100 unknown kids, want 1", n)
	}
	for i, c := range codes {
		if c != 401 && c != 503 {
			t.Fatalf("token %d answered %d", i, c)
		}
	}
	// Sequential unknown kids over time: at most one fetch per interval.
	is.SetDelay(0)
	start, base := time.Now(), is.JWKSFetches()
	for i := 0; i < 40; i++ {
		tok, _ := is.SignPayload(rogue, fmt.Sprintf("seq-%d", i), []byte(`{"sub":"x"}`))
		_, _ = v.Verify(t.Context(), tok)
		time.Sleep(25 * time.Millisecond)
	}
	allowed := int64(time.Since(start)/cfg.KeysRefetchInterval) + 1
	if n := is.JWKSFetches() - base; n > allowed {
		t.Fatalf("%d fetches in %s, at most %d allowed", n, time.Since(start).Round(time.Millisecond), allowed)
	}
}

// A key the issuer withdraws is refused when the set's lifetime ends, with
// no token asking for it (issue 10: it stayed trusted indefinitely).
func TestKeySetWithdrawnKeyExpires(t *testing.T) {
	for _, tc := range []struct {
		name         string
		maxAge       time.Duration
		cacheControl string
	}{
		{"our maximum age", time.Second, ""},
		{"the issuer's max-age", time.Hour, "public, max-age=1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			is := testissuer.New(t)
			is.SetCacheControl(tc.cacheControl)
			cfg := issuerConfig(is)
			cfg.KeysMaxAge, cfg.KeysRefetchInterval = tc.maxAge, 200*time.Millisecond
			v := newVerifier(t, cfg)
			old := is.Current()
			oldTok := is.Sign(t, is.Claims("alice", testAudience, nil))
			if _, err := v.Verify(t.Context(), oldTok); err != nil {
				t.Fatal(err)
			}
			is.Use(is.AddKey(t))
			is.Withdraw(old)
			start := time.Now()
			waitFor(t, "the withdrawn key refused", func() bool {
				_, err := v.Verify(t.Context(), oldTok)
				return status(err) == 401
			})
			t.Logf("withdrawn key refused after %s", time.Since(start).Round(10*time.Millisecond))
			if _, err := v.Verify(t.Context(), is.Sign(t, is.Claims("alice", testAudience, nil))); err != nil {
				t.Fatalf("the new key: %v", err)
			}
		})
	}
}

// The issuer's JWKS answering 500: a token with a kid not yet held is 503
// "try again" (issue 10: it was 401 "sign in again"); the keys already held
// keep working; when the issuer is back the new kid is accepted.
func TestKeySetOutage(t *testing.T) {
	is := testissuer.New(t)
	cfg := issuerConfig(is)
	cfg.KeysRefetchInterval, cfg.KeysMaxAge = 200*time.Millisecond, 400*time.Millisecond
	v := newVerifier(t, cfg)
	oldTok := is.Sign(t, is.Claims("alice", testAudience, nil))
	if _, err := v.Verify(t.Context(), oldTok); err != nil {
		t.Fatal(err)
	}
	is.FailJWKS(http.StatusInternalServerError)
	newKid := is.AddKey(t)
	newTok := is.SignWith(t, newKid, is.Claims("alice", testAudience, nil))
	// Past the set's lifetime, with the refresh failing.
	time.Sleep(600 * time.Millisecond)
	waitFor(t, "a failed fetch", func() bool { return is.JWKSFetches() >= 2 })
	_, err := v.Verify(t.Context(), newTok)
	var ve *verify.Error
	if !errors.As(err, &ve) || ve.Status != 503 || ve.Code != "unavailable" || ve.RetryAfter <= 0 {
		t.Fatalf("new kid during the outage: %v", err)
	}
	if _, err := v.Verify(t.Context(), oldTok); err != nil {
		t.Fatalf("a held key during the outage: %v", err)
	}
	is.FailJWKS(0)
	waitFor(t, "the new kid accepted after the outage", func() bool {
		_, err := v.Verify(t.Context(), newTok)
		return err == nil
	})
}

// No key set at all (JWKS failing from the start): every token is 503, and
// Ready says why.
func TestKeySetNeverFetched(t *testing.T) {
	is := testissuer.New(t)
	is.FailJWKS(http.StatusBadGateway)
	cfg := issuerConfig(is)
	cfg.KeysRefetchInterval = 200 * time.Millisecond
	v := newVerifier(t, cfg)
	if err := v.Ready(t.Context()); err == nil {
		t.Fatal("ready without keys")
	}
	tok := is.Sign(t, is.Claims("alice", testAudience, nil))
	if _, err := v.Verify(t.Context(), tok); status(err) != 503 {
		t.Fatalf("without keys: %v", err)
	}
	is.FailJWKS(0)
	waitFor(t, "ready once the keys can be fetched", func() bool { return v.Ready(t.Context()) == nil })
	if _, err := v.Verify(t.Context(), tok); err != nil {
		t.Fatal(err)
	}
}
