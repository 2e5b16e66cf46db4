package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"

	"github.com/ghostwire/ghostwire/internal/testenv"
	"github.com/ghostwire/ghostwire/internal/testissuer"
	"github.com/ghostwire/ghostwire/server/api"
	"github.com/ghostwire/ghostwire/server/internal/nstest"
)

// The real ghostwire-server process against an issuer whose JWKS the test
// serves and changes (issue 10): a flood of forged tokens costs the issuer
// at most one fetch per refetch interval; a rotated key is accepted, a
// withdrawn one refused within the key set's maximum age; an unreachable
// JWKS is 503 "try again" with the held keys still working; a missing
// scope is 403 naming it; the server's own key and a low-order key are 400.
func TestSystemIssuerKeys(t *testing.T) {
	testenv.RequireSystem(t)
	ns := nstest.NS(t, "i")
	is := testissuer.Serve(t, nstest.Listen(t, ns, "tcp", "127.0.0.1:8444"))
	const aud, scope, maxAge, refetch = "api://ghostwire-system", "vpn.connect", 2 * time.Second, time.Second
	ifname := fmt.Sprintf("gwsi%04x", rand.IntN(1<<16))
	resolv := filepath.Join(t.TempDir(), "resolv.conf")
	os.WriteFile(resolv, []byte("nameserver 10.96.0.10\n"), 0o644)
	_, out := startHelper(t, ns, nil, "--insecure-http", "--listen", "127.0.0.1:8443", "--ops-listen", "",
		"--issuer", is.Issuer(), "--audience", aud, "--client-id", "ghostwire", "--required-scope", scope, "--allow-any-user",
		"--issuer-keys-max-age", maxAge.String(), "--issuer-keys-refetch-interval", refetch.String(),
		"--interface", ifname, "--wg-mode", "userspace", "--listen-port", "51870", "--cidr", "100.81.7.0/24",
		"--endpoint", "127.0.0.1:51870", "--manage-firewall=false", "--resolv-conf", resolv, "--log-format", "text")
	fail := func(format string, a ...any) {
		t.Helper()
		t.Fatalf(format+"\n--- server output:\n%s", append(a, out.String())...)
	}
	hc := &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{DialContext: nstest.DialContext(t, ns)}}
	call := func(method, path, token string, body any) (int, http.Header, []byte) {
		t.Helper()
		var r io.Reader
		if body != nil {
			b, _ := json.Marshal(body)
			r = bytes.NewReader(b)
		}
		req, _ := http.NewRequestWithContext(context.Background(), method, "http://127.0.0.1:8443"+path, r)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := hc.Do(req)
		if err != nil {
			fail("%s %s: %v", method, path, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header, b
	}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		req, _ := http.NewRequest("GET", "http://127.0.0.1:8443/readyz", nil)
		if resp, err := hc.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		if time.Now().After(deadline) {
			fail("server not ready")
		}
	}
	claims := func(extra map[string]any) map[string]any {
		c := is.Claims("alice", aud, map[string]any{"scp": scope})
		for k, v := range extra {
			c[k] = v
		}
		return c
	}
	k1 := is.Current()
	cli, _ := wgtypes.GeneratePrivateKey()
	peerPath := api.PathPeer + url.PathEscape(cli.PublicKey().String())
	code, _, b := call("POST", api.PathPeers, is.Sign(t, claims(nil)), api.RegisterRequest{PublicKey: cli.PublicKey().String()})
	var peer api.Peer
	if code != 201 || json.Unmarshal(b, &peer) != nil {
		fail("register: %d %s", code, b)
	}

	// A flood: forged tokens with fresh kids, and bad signatures under the
	// known kid, each asking for the peer.
	rogue := is.AddKey(t)
	is.Withdraw(rogue)
	start, before := time.Now(), is.JWKSFetches()
	for i := 0; i < 100; i++ {
		tok, _ := is.SignPayload(rogue, fmt.Sprintf("forged-%d", i), []byte(fmt.Sprintf(`{"iss":%q,"sub":"alice","aud":%q,"scp":%q,"exp":%d}`,
			is.Issuer(), aud, scope, time.Now().Add(time.Hour).Unix())))
		if code, _, b := call("GET", peerPath, tok, nil); code != 401 && code != 503 {
			fail("forged kid %d: %d %s", i, code, b)
		}
		tok, _ = is.SignPayload(rogue, k1, []byte(fmt.Sprintf(`{"iss":%q,"sub":"alice","aud":%q,"exp":%d,"n":%d}`, is.Issuer(), aud, time.Now().Add(time.Hour).Unix(), i)))
		if code, _, b := call("GET", peerPath, tok, nil); code != 401 {
			fail("bad signature under the known kid %d: %d %s", i, code, b)
		}
	}
	// One fetch per refetch interval at most (and the key set's own
	// refresh every maxAge, which is longer).
	allowed := int64(time.Since(start)/refetch) + 1
	if n := is.JWKSFetches() - before; n > allowed {
		fail("%d JWKS fetches for 200 forged tokens in %s; at most %d allowed", n, time.Since(start).Round(time.Millisecond), allowed)
	}
	t.Logf("200 forged tokens in %s: %d JWKS fetches", time.Since(start).Round(time.Millisecond), is.JWKSFetches()-before)

	// Rotation: the issuer signs with a new key; accepted as soon as the
	// rate limit allows a fetch, "try again" (never "sign in again") before.
	k2 := is.AddKey(t)
	is.Use(k2)
	tok2 := is.Sign(t, claims(nil))
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		code, _, b := call("GET", peerPath, tok2, nil)
		if code == 200 {
			break
		}
		if code != 503 || time.Now().After(deadline) {
			fail("token of the rotated key: %d %s", code, b)
		}
	}

	// Withdrawal: k1 leaves the JWKS; a k1 token is refused within maxAge
	// without any token asking for a fetch.
	tok1 := is.SignWith(t, k1, claims(nil))
	if code, _, b := call("GET", peerPath, tok1, nil); code != 200 {
		fail("k1 before withdrawal: %d %s", code, b)
	}
	is.Withdraw(k1)
	withdrawn := time.Now()
	var refused time.Duration
	for ; ; time.Sleep(100 * time.Millisecond) {
		code, _, b := call("GET", peerPath, tok1, nil)
		if code != 200 && refused == 0 {
			refused = time.Since(withdrawn)
		}
		if code == 401 { // "try again" (503) may come first, for one refetch interval
			break
		}
		if (code != 200 && code != 503) || time.Since(withdrawn) > 15*time.Second {
			fail("withdrawn key after %s: %d %s", time.Since(withdrawn).Round(time.Millisecond), code, b)
		}
	}
	t.Logf("withdrawn key refused after %s, 401 after %s (max age %s)", refused.Round(100*time.Millisecond), time.Since(withdrawn).Round(100*time.Millisecond), maxAge)

	// Outage: the JWKS answers 500. A key not yet held is 503 with
	// Retry-After; the held key keeps working.
	is.FailJWKS(http.StatusInternalServerError)
	k3 := is.AddKey(t)
	tok3 := is.SignWith(t, k3, claims(nil))
	failed := is.JWKSFetches()
	for deadline := time.Now().Add(15 * time.Second); is.JWKSFetches() == failed; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			fail("no fetch attempt during the outage")
		}
	}
	time.Sleep(200 * time.Millisecond) // the failed attempt is recorded
	code, h, b := call("GET", peerPath, tok3, nil)
	var e api.Error
	if code != 503 || json.Unmarshal(b, &e) != nil || e.Code != api.CodeUnavailable || h.Get("Retry-After") == "" || strings.Contains(e.Message, "sign in again") {
		fail("new kid during the JWKS outage: %d %v %s", code, h, b)
	}
	if code, _, b := call("GET", peerPath, tok2, nil); code != 200 {
		fail("held key during the outage: %d %s", code, b)
	}
	is.FailJWKS(0)
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		code, _, b := call("GET", peerPath, tok3, nil)
		if code == 200 {
			break
		}
		if code != 503 || time.Now().After(deadline) {
			fail("new kid after the outage: %d %s", code, b)
		}
	}

	// Missing and wrong scope: 403 naming it (RFC 6750 insufficient_scope).
	for _, scp := range []any{nil, "other.scope"} {
		c := claims(nil)
		if scp == nil {
			delete(c, "scp")
		} else {
			c["scp"] = scp
		}
		code, h, b := call("GET", peerPath, is.Sign(t, c), nil)
		if code != 403 || json.Unmarshal(b, &e) != nil || e.Code != api.CodeForbidden || !strings.Contains(e.Message, scope) ||
			!strings.Contains(h.Get("WWW-Authenticate"), `error="insufficient_scope"`) {
			fail("scope %v: %d %v %s", scp, code, h, b)
		}
	}

	// Keys that can never work: the server's own, a low-order point.
	for _, k := range []string{peer.ServerPublicKey, "X5yVvKNQjCSx0LFVnIPvWwREXMRYHI6G2CJO3dCfEVc="} {
		code, _, b := call("POST", api.PathPeers, tok2, api.RegisterRequest{PublicKey: k})
		if code != 400 || json.Unmarshal(b, &e) != nil || e.Code != api.CodeBadRequest {
			fail("registering %s: %d %s", k, code, b)
		}
	}
}
