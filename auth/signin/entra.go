package signin

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"slices"
	"strings"
	"sync"

	msalerrors "github.com/AzureAD/microsoft-authentication-library-for-go/apps/errors"
	"github.com/AzureAD/microsoft-authentication-library-for-go/apps/public"

	"github.com/ghostwire/ghostwire/server/api"
)

// entraProvider signs in with Entra ID through MSAL for Go. MSAL's token
// cache is its default in-memory one: nothing is written to disk.
type entraProvider struct {
	cfg       api.Config
	opts      Options
	log       *slog.Logger
	authority string
	scopes    []string

	mu      sync.Mutex
	app     public.Client
	account *public.Account
}

func newEntra(cfg api.Config, opts Options, log *slog.Logger) (*entraProvider, error) {
	authority := opts.EntraAuthority
	if authority == "" {
		if cfg.TenantID == "" {
			return nil, errors.New("the server's Entra configuration has no tenant id: ask the server's admin to set it")
		}
		authority = "https://login.microsoftonline.com/" + cfg.TenantID
	}
	// MSAL adds openid, profile and offline_access itself.
	scopes := slices.DeleteFunc(slices.Clone(cfg.Scopes), func(s string) bool {
		return s == "openid" || s == "profile" || s == "offline_access"
	})
	if len(scopes) == 0 {
		return nil, errors.New("the server's Entra configuration has no API scope (api://<api-app-id>/vpn.connect): ask the server's admin to set it")
	}
	p := &entraProvider{cfg: cfg, opts: opts, log: log, authority: authority, scopes: scopes}
	app, err := p.newApp()
	if err != nil {
		return nil, err
	}
	p.app = app
	return p, nil
}

func (p *entraProvider) newApp() (public.Client, error) {
	app, err := public.New(p.cfg.ClientID, public.WithAuthority(p.authority), public.WithHTTPClient(p.opts.HTTPClient))
	if err != nil {
		return public.Client{}, fmt.Errorf("Entra sign-in setup: %w", err)
	}
	return app, nil
}

func (p *entraProvider) client() public.Client {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.app
}

func (p *entraProvider) deviceCode(ctx context.Context, prompt func(Prompt)) error {
	dc, err := p.client().AcquireTokenByDeviceCode(ctx, p.scopes)
	if err != nil {
		return describeEntraError("device code sign-in could not start", err)
	}
	r := dc.Result
	prompt(Prompt{VerificationURI: r.VerificationURL, UserCode: r.UserCode, Message: r.Message, ExpiresAt: r.ExpiresOn})
	res, err := dc.AuthenticationResult(ctx)
	if err != nil {
		return describeEntraError("device code sign-in", err)
	}
	p.remember(res.Account)
	return nil
}

func (p *entraProvider) browser(ctx context.Context, prompt func(Prompt)) error {
	deadline, _ := ctx.Deadline()
	// MSAL listens on localhost:<free port>, which Go binds to 127.0.0.1, and
	// calls openURL instead of opening a browser itself.
	res, err := p.client().AcquireTokenInteractive(ctx, p.scopes,
		public.WithRedirectURI("http://localhost"),
		public.WithOpenURL(func(u string) error {
			if err := checkLoopbackRedirect(u); err != nil {
				return err
			}
			prompt(Prompt{BrowserURL: u, ExpiresAt: deadline})
			return nil
		}))
	if err != nil {
		if ctx.Err() != nil {
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return errors.New("browser sign-in timed out: start again")
			}
			return ctx.Err()
		}
		return describeEntraError("browser sign-in", err)
	}
	p.remember(res.Account)
	return nil
}

// checkLoopbackRedirect refuses an authorize URL whose redirect is not a
// loopback address (defence in depth around MSAL's listener).
func checkLoopbackRedirect(authURL string) error {
	u, err := url.Parse(authURL)
	if err != nil {
		return err
	}
	r, err := url.Parse(u.Query().Get("redirect_uri"))
	if err != nil || r.Scheme != "http" {
		return errors.New("browser sign-in: unexpected redirect URI")
	}
	if h := r.Hostname(); h != "localhost" {
		if ip := net.ParseIP(h); ip == nil || !ip.IsLoopback() {
			return fmt.Errorf("browser sign-in: redirect URI %q is not on loopback", r.Host)
		}
	}
	return nil
}

func (p *entraProvider) remember(a public.Account) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.account = &a
}

func (p *entraProvider) token(ctx context.Context) (Token, error) {
	p.mu.Lock()
	app, acct := p.app, p.account
	p.mu.Unlock()
	if acct == nil {
		return Token{}, signInRequired("not signed in", nil)
	}
	// Silent: the cached token, or a refresh when it has under 5 minutes left.
	res, err := app.AcquireTokenSilent(ctx, p.scopes, public.WithSilentAccount(*acct))
	if err != nil {
		if isTransient(err) {
			return Token{}, fmt.Errorf("could not renew the sign-in (will retry): %w", err)
		}
		p.mu.Lock()
		if p.account != nil && p.account.HomeAccountID == acct.HomeAccountID {
			p.account = nil
		}
		p.mu.Unlock()
		return Token{}, signInRequired("Entra refused to renew the session", err)
	}
	user := res.Account.PreferredUsername
	if user == "" {
		user = displayName(res.AccessToken)
	}
	return Token{AccessToken: res.AccessToken, ExpiresAt: res.ExpiresOn, User: user}, nil
}

func (p *entraProvider) logout() {
	p.mu.Lock()
	app, acct := p.app, p.account
	p.account = nil
	p.mu.Unlock()
	if acct != nil {
		_ = app.RemoveAccount(context.Background(), *acct)
	}
	// A new client starts with an empty cache: nothing of the old session
	// stays reachable.
	if fresh, err := p.newApp(); err == nil {
		p.mu.Lock()
		p.app = fresh
		p.mu.Unlock()
	}
}

// isTransient is true for failures to reach Entra (retry later), false when
// Entra answered with a refusal (sign in again).
func isTransient(err error) bool {
	var ce msalerrors.CallErr
	if errors.As(err, &ce) && ce.Resp != nil {
		return ce.Resp.StatusCode >= 500 || ce.Resp.StatusCode == 429
	}
	var ne net.Error
	var ue *url.Error
	return errors.As(err, &ne) || errors.As(err, &ue) || errors.Is(err, context.DeadlineExceeded)
}

func describeEntraError(what string, err error) error {
	msg := err.Error()
	switch {
	case strings.Contains(msg, "authorization_declined") || strings.Contains(msg, "access_denied"):
		return fmt.Errorf("%s was declined: start again and approve it", what)
	case strings.Contains(msg, "expired_token"):
		return fmt.Errorf("%s timed out before it was approved: start again", what)
	case strings.Contains(msg, "AADSTS53003") || strings.Contains(msg, "AADSTS50199"):
		return fmt.Errorf("%s was blocked by your organization's sign-in policy: use the browser sign-in instead (%v)", what, err)
	}
	return fmt.Errorf("%s failed: %w", what, err)
}
