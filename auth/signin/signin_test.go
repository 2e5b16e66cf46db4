package signin_test

import (
	"context"
	"errors"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ghostwire/ghostwire/auth/devidp"
	"github.com/ghostwire/ghostwire/auth/devidp/entratest"
	"github.com/ghostwire/ghostwire/auth/signin"
	"github.com/ghostwire/ghostwire/auth/verify"
	"github.com/ghostwire/ghostwire/server/api"
)

// clock is a settable clock for the session (token freshness).
type clock struct{ off atomic.Int64 }

func (c *clock) now() time.Time          { return time.Now().Add(time.Duration(c.off.Load())) }
func (c *clock) advance(d time.Duration) { c.off.Add(int64(d)) }

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestOIDCDeviceFlowRefreshAndRefusal(t *testing.T) {
	ts := devidp.NewTestServer(t, devidp.Options{PollInterval: time.Second})
	clk := &clock{}
	s, err := signin.New(ts.APIConfig("test"), signin.Options{HTTPClient: ts.HTTPClient(), Now: clk.now})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Token(ctxT(t)); !errors.Is(err, signin.ErrSignInRequired) {
		t.Fatalf("token before sign-in: %v", err)
	}
	var prompts []signin.Prompt
	err = s.SignIn(ctxT(t), signin.DeviceCode, func(p signin.Prompt) {
		prompts = append(prompts, p)
		if err := ts.Approve(p.UserCode, devidp.UserDemo); err != nil {
			t.Error(err)
		}
	})
	if err != nil {
		t.Fatalf("sign-in: %v", err)
	}
	if len(prompts) != 1 || !strings.HasPrefix(prompts[0].VerificationURI, ts.Issuer()+"/device") || prompts[0].BrowserURL != "" || prompts[0].ExpiresAt.Before(time.Now()) {
		t.Fatalf("prompts %+v", prompts)
	}
	tok, err := s.Token(ctxT(t))
	if err != nil || tok.User != devidp.UserDemo || tok.AccessToken == "" {
		t.Fatalf("token %+v %v", tok, err)
	}
	// The server accepts it.
	v, err := verify.New(ctxT(t), verify.Config{Issuer: ts.Issuer(), Audience: ts.Audience(), RequiredScope: ts.APIScope(),
		AllowedRoles: []string{devidp.RoleUser}, HTTPClient: ts.HTTPClient()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(ctxT(t), tok.AccessToken); err != nil {
		t.Fatalf("server refuses the signed-in token: %v", err)
	}
	// Still fresh: same token.
	if again, _ := s.Token(ctxT(t)); again.AccessToken != tok.AccessToken {
		t.Fatal("a fresh token was renewed")
	}
	// Two hours later: renewed silently with the refresh token, twice (rotation).
	for i := 0; i < 2; i++ {
		clk.advance(2 * time.Hour)
		nt, err := s.Token(ctxT(t))
		if err != nil || nt.AccessToken == tok.AccessToken || nt.User != devidp.UserDemo {
			t.Fatalf("renewal %d: %+v %v", i, nt, err)
		}
		tok = nt
	}
	// The provider revokes the session: sign-in required, and it stays so.
	if err := ts.RevokeUser(devidp.UserDemo); err != nil {
		t.Fatal(err)
	}
	clk.advance(2 * time.Hour)
	if _, err := s.Token(ctxT(t)); !errors.Is(err, signin.ErrSignInRequired) {
		t.Fatalf("after revocation: %v", err)
	}
	if _, err := s.Token(ctxT(t)); !errors.Is(err, signin.ErrSignInRequired) {
		t.Fatalf("after revocation, again: %v", err)
	}
}

func TestOIDCDeviceDeclined(t *testing.T) {
	ts := devidp.NewTestServer(t, devidp.Options{PollInterval: time.Second})
	s, _ := signin.New(ts.APIConfig("test"), signin.Options{HTTPClient: ts.HTTPClient()})
	err := s.SignIn(ctxT(t), signin.DeviceCode, func(p signin.Prompt) { _ = ts.Deny(p.UserCode) })
	if err == nil || !strings.Contains(err.Error(), "declined") {
		t.Fatalf("got %v", err)
	}
}

// followDevLogin plays the person in the browser against devidp: open the
// URL, pick the user; the redirects end at the daemon's loopback listener.
func followDevLogin(t *testing.T, ts *devidp.TestServer, browserURL, user string) {
	t.Helper()
	hc := ts.HTTPClient()
	resp, err := hc.Get(browserURL)
	if err != nil {
		t.Error(err)
		return
	}
	resp.Body.Close()
	id := resp.Request.URL.Query().Get("authRequestID")
	if id == "" {
		t.Errorf("browser URL led to %s, not the login page", resp.Request.URL)
		return
	}
	resp, err = hc.PostForm(ts.Issuer()+"/login", url.Values{"authRequestID": {id}, "user": {user}})
	if err != nil {
		t.Error(err)
		return
	}
	resp.Body.Close()
	if resp.Request.URL.Hostname() != "127.0.0.1" || resp.StatusCode != 200 {
		t.Errorf("redirects ended at %s (%d), not the loopback listener", resp.Request.URL, resp.StatusCode)
	}
}

func TestOIDCBrowserFlow(t *testing.T) {
	ts := devidp.NewTestServer(t, devidp.Options{})
	s, _ := signin.New(ts.APIConfig("test"), signin.Options{HTTPClient: ts.HTTPClient()})
	var wg sync.WaitGroup
	err := s.SignIn(ctxT(t), signin.Browser, func(p signin.Prompt) {
		if p.UserCode != "" || !strings.HasPrefix(p.BrowserURL, ts.Issuer()+"/authorize?") ||
			!strings.Contains(p.BrowserURL, "code_challenge_method=S256") ||
			!strings.Contains(p.BrowserURL, url.QueryEscape("http://127.0.0.1:")) {
			t.Errorf("prompt %+v", p)
		}
		wg.Add(1)
		go func() { defer wg.Done(); followDevLogin(t, ts, p.BrowserURL, devidp.UserAdmin) }()
	})
	wg.Wait()
	if err != nil {
		t.Fatalf("browser sign-in: %v", err)
	}
	tok, err := s.Token(ctxT(t))
	if err != nil || tok.User != devidp.UserAdmin {
		t.Fatalf("token %+v %v", tok, err)
	}
	s.Logout()
	if _, err := s.Token(ctxT(t)); !errors.Is(err, signin.ErrSignInRequired) {
		t.Fatalf("after logout: %v", err)
	}
}

func TestOIDCAutoShowsBothAndDeviceWins(t *testing.T) {
	ts := devidp.NewTestServer(t, devidp.Options{PollInterval: time.Second})
	s, _ := signin.New(ts.APIConfig("test"), signin.Options{HTTPClient: ts.HTTPClient()})
	var mu sync.Mutex
	var last signin.Prompt
	err := s.SignIn(ctxT(t), signin.Auto, func(p signin.Prompt) {
		mu.Lock()
		last = p
		mu.Unlock()
		if p.UserCode != "" {
			_ = ts.Approve(p.UserCode, devidp.UserDemo)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if last.UserCode == "" {
		t.Fatalf("no code shown: %+v", last)
	}
	if tok, err := s.Token(ctxT(t)); err != nil || tok.User != devidp.UserDemo {
		t.Fatalf("%+v %v", tok, err)
	}
}

func TestEntraDeviceCodeSilentRefreshLogout(t *testing.T) {
	// Lifetime under MSAL's 5-minute margin: every silent call refreshes.
	fake := entratest.New(t, entratest.Options{AccessTokenLifetime: 2 * time.Minute})
	s, err := signin.New(fake.APIConfig(), signin.Options{HTTPClient: fake.HTTPClient()})
	if err != nil {
		t.Fatal(err)
	}
	err = s.SignIn(ctxT(t), signin.DeviceCode, func(p signin.Prompt) {
		if p.VerificationURI != "https://microsoft.com/devicelogin" || p.Message == "" {
			t.Errorf("prompt %+v", p)
		}
		if err := fake.Approve(p.UserCode, entratest.UserDemo); err != nil {
			t.Error(err)
		}
	})
	if err != nil {
		t.Fatalf("sign-in: %v", err)
	}
	tok, err := s.Token(ctxT(t))
	if err != nil || tok.User != entratest.UserDemo {
		t.Fatalf("token %+v %v", tok, err)
	}
	if n := fake.TokenRequests("refresh_token"); n != 1 {
		t.Fatalf("silent call made %d refreshes, want 1", n)
	}
	cfg := verify.EntraConfig(fake.TenantID, fake.APIAppID)
	cfg.HTTPClient = fake.HTTPClient()
	v, _ := verify.New(ctxT(t), cfg)
	if _, err := v.Verify(ctxT(t), tok.AccessToken); err != nil {
		t.Fatalf("server refuses the token: %v", err)
	}
	s.Logout()
	if _, err := s.Token(ctxT(t)); !errors.Is(err, signin.ErrSignInRequired) {
		t.Fatalf("after logout: %v", err)
	}
	if n := fake.TokenRequests("refresh_token"); n != 1 {
		t.Fatalf("logout then token made a refresh (%d)", n)
	}
}

func TestEntraRefreshRefused(t *testing.T) {
	fake := entratest.New(t, entratest.Options{AccessTokenLifetime: 2 * time.Minute})
	s, _ := signin.New(fake.APIConfig(), signin.Options{HTTPClient: fake.HTTPClient()})
	if err := s.SignIn(ctxT(t), signin.DeviceCode, func(p signin.Prompt) { _ = fake.Approve(p.UserCode, entratest.UserAdmin) }); err != nil {
		t.Fatal(err)
	}
	fake.RevokeRefreshTokens()
	if _, err := s.Token(ctxT(t)); !errors.Is(err, signin.ErrSignInRequired) {
		t.Fatalf("refused refresh: %v", err)
	}
}

var (
	reAction = regexp.MustCompile(`action="([^"]+)"`)
	reInput  = regexp.MustCompile(`name="(code|state)" value="([^"]*)"`)
)

func TestEntraBrowserFlow(t *testing.T) {
	fake := entratest.New(t, entratest.Options{})
	s, _ := signin.New(fake.APIConfig(), signin.Options{HTTPClient: fake.HTTPClient()})
	var wg sync.WaitGroup
	err := s.SignIn(ctxT(t), signin.Browser, func(p signin.Prompt) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// The browser: Entra's page answers with a form that posts the
			// code to MSAL's loopback listener.
			resp, err := fake.HTTPClient().Get(p.BrowserURL)
			if err != nil {
				t.Error(err)
				return
			}
			var b strings.Builder
			buf := make([]byte, 4096)
			for {
				n, err := resp.Body.Read(buf)
				b.Write(buf[:n])
				if err != nil {
					break
				}
			}
			resp.Body.Close()
			m := reAction.FindStringSubmatch(b.String())
			if m == nil {
				t.Errorf("no form in %q", b.String())
				return
			}
			action := html.UnescapeString(m[1])
			if u, _ := url.Parse(action); u == nil || u.Hostname() != "localhost" {
				t.Errorf("form posts to %s", action)
				return
			}
			form := url.Values{}
			for _, in := range reInput.FindAllStringSubmatch(b.String(), -1) {
				form.Set(in[1], html.UnescapeString(in[2]))
			}
			r2, err := http.PostForm(action, form)
			if err != nil {
				t.Error(err)
				return
			}
			r2.Body.Close()
		}()
	})
	wg.Wait()
	if err != nil {
		t.Fatalf("browser sign-in: %v", err)
	}
	if tok, err := s.Token(ctxT(t)); err != nil || tok.User != entratest.UserDemo {
		t.Fatalf("%+v %v", tok, err)
	}
}

func TestNewRefusesBadConfig(t *testing.T) {
	for name, cfg := range map[string]api.Config{
		"unknown provider": {Provider: "saml", ClientID: "c"},
		"no client":        {Provider: api.ProviderOIDC, Issuer: "https://x.example"},
		"entra no tenant":  {Provider: api.ProviderEntra, ClientID: "c", Scopes: []string{"api://x/vpn.connect"}},
		"entra no scope":   {Provider: api.ProviderEntra, ClientID: "c", TenantID: "t"},
		"oidc bad issuer":  {Provider: api.ProviderOIDC, ClientID: "c", Issuer: "ftp://x"},
	} {
		if _, err := signin.New(cfg, signin.Options{}); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if m, err := signin.ParseMode("device-code"); err != nil || m != signin.DeviceCode {
		t.Error("ParseMode")
	}
}

func TestOIDCBrowserIgnoresForgedCallback(t *testing.T) {
	ts := devidp.NewTestServer(t, devidp.Options{})
	s, _ := signin.New(ts.APIConfig("test"), signin.Options{HTTPClient: ts.HTTPClient()})
	var wg sync.WaitGroup
	err := s.SignIn(ctxT(t), signin.Browser, func(p signin.Prompt) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			u, _ := url.Parse(p.BrowserURL)
			redirect := u.Query().Get("redirect_uri")
			// Another page posts a code of its own with a wrong state: ignored.
			resp, err := http.Get(redirect + "?code=forged&state=wrong")
			if err != nil {
				t.Error(err)
				return
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusBadRequest {
				t.Errorf("forged callback answered %d", resp.StatusCode)
			}
			followDevLogin(t, ts, p.BrowserURL, devidp.UserDemo)
		}()
	})
	wg.Wait()
	if err != nil {
		t.Fatalf("sign-in after a forged callback: %v", err)
	}
	if tok, err := s.Token(ctxT(t)); err != nil || tok.User != devidp.UserDemo {
		t.Fatalf("%+v %v", tok, err)
	}
}

// A provider that cannot be reached is not a refusal: the daemon retries
// instead of asking the person to sign in again.
func TestUnreachableProviderIsTransient(t *testing.T) {
	ts := devidp.NewTestServer(t, devidp.Options{PollInterval: time.Second})
	clk := &clock{}
	s, _ := signin.New(ts.APIConfig("test"), signin.Options{HTTPClient: ts.HTTPClient(), Now: clk.now})
	if err := s.SignIn(ctxT(t), signin.DeviceCode, func(p signin.Prompt) { _ = ts.Approve(p.UserCode, devidp.UserDemo) }); err != nil {
		t.Fatal(err)
	}
	ts.Server.Close()
	clk.advance(2 * time.Hour)
	if _, err := s.Token(ctxT(t)); err == nil || errors.Is(err, signin.ErrSignInRequired) {
		t.Fatalf("unreachable provider: %v (want a transient error)", err)
	}

	fake := entratest.New(t, entratest.Options{AccessTokenLifetime: 2 * time.Minute})
	es, _ := signin.New(fake.APIConfig(), signin.Options{HTTPClient: fake.HTTPClient()})
	if err := es.SignIn(ctxT(t), signin.DeviceCode, func(p signin.Prompt) { _ = fake.Approve(p.UserCode, entratest.UserDemo) }); err != nil {
		t.Fatal(err)
	}
	fake.Server.Close()
	if _, err := es.Token(ctxT(t)); err == nil || errors.Is(err, signin.ErrSignInRequired) {
		t.Fatalf("unreachable Entra: %v (want a transient error)", err)
	}
}

func TestEntraDeviceDeclined(t *testing.T) {
	fake := entratest.New(t, entratest.Options{})
	s, _ := signin.New(fake.APIConfig(), signin.Options{HTTPClient: fake.HTTPClient()})
	err := s.SignIn(ctxT(t), signin.DeviceCode, func(p signin.Prompt) { _ = fake.Deny(p.UserCode) })
	if err == nil || !strings.Contains(err.Error(), "declined") {
		t.Fatalf("got %v", err)
	}
}
