package signin

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/ghostwire/ghostwire/server/api"
)

// oidcProvider signs in with any OpenID provider through x/oauth2.
type oidcProvider struct {
	cfg  api.Config
	opts Options
	log  *slog.Logger

	discoverMu sync.Mutex
	oc         *oauth2.Config // nil until discovery worked

	mu  sync.Mutex // guards tok; held across a refresh (refresh tokens rotate)
	tok *oauth2.Token
}

func newOIDC(cfg api.Config, opts Options, log *slog.Logger) (*oidcProvider, error) {
	u, err := url.Parse(cfg.Issuer)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return nil, fmt.Errorf("the server's sign-in issuer %q is not an https URL: ask the server's admin to fix it", cfg.Issuer)
	}
	scopes := slices.Clone(cfg.Scopes)
	for _, s := range []string{oidc.ScopeOpenID, oidc.ScopeOfflineAccess} {
		if !slices.Contains(scopes, s) {
			scopes = append(scopes, s)
		}
	}
	cfg.Scopes = scopes
	return &oidcProvider{cfg: cfg, opts: opts, log: log}, nil
}

func (p *oidcProvider) ctx(ctx context.Context) context.Context {
	return context.WithValue(ctx, oauth2.HTTPClient, p.opts.HTTPClient)
}

// config fetches the issuer's discovery document once.
func (p *oidcProvider) config(ctx context.Context) (*oauth2.Config, error) {
	p.discoverMu.Lock()
	defer p.discoverMu.Unlock()
	if p.oc != nil {
		return p.oc, nil
	}
	prov, err := oidc.NewProvider(oidc.ClientContext(ctx, p.opts.HTTPClient), p.cfg.Issuer)
	if err != nil {
		return nil, fmt.Errorf("cannot reach the sign-in provider %s: %w (check the network, or the CA the daemon trusts)", p.cfg.Issuer, err)
	}
	ep := prov.Endpoint()
	ep.AuthStyle = oauth2.AuthStyleInParams // public client: client_id in the form, no secret
	p.oc = &oauth2.Config{ClientID: p.cfg.ClientID, Endpoint: ep, Scopes: p.cfg.Scopes}
	return p.oc, nil
}

func (p *oidcProvider) deviceCode(ctx context.Context, prompt func(Prompt)) error {
	oc, err := p.config(ctx)
	if err != nil {
		return err
	}
	if oc.Endpoint.DeviceAuthURL == "" {
		return errors.New("the sign-in provider does not offer device code sign-in: use the browser sign-in")
	}
	ctx = p.ctx(ctx)
	da, err := oc.DeviceAuth(ctx)
	if err != nil {
		return fmt.Errorf("device code sign-in could not start: %w", err)
	}
	prompt(Prompt{VerificationURI: da.VerificationURI, VerificationURIComplete: da.VerificationURIComplete,
		UserCode: da.UserCode, ExpiresAt: da.Expiry})
	tok, err := oc.DeviceAccessToken(ctx, da)
	if err != nil {
		return describeOAuthError("device code sign-in", err)
	}
	p.store(tok)
	return nil
}

func (p *oidcProvider) browser(ctx context.Context, prompt func(Prompt)) error {
	oc, err := p.config(ctx)
	if err != nil {
		return err
	}
	if oc.Endpoint.AuthURL == "" {
		return errors.New("the sign-in provider does not offer browser sign-in: use the device code")
	}
	verifier := oauth2.GenerateVerifier()
	state := oauth2.GenerateVerifier()
	cb, err := listenLoopback(state)
	if err != nil {
		return err
	}
	defer cb.close()
	// A Config of its own, not a copy of oc: oauth2 caches the auth style
	// in the Config with atomics, which the device flow racing this one
	// writes while a copy would read it.
	c := &oauth2.Config{ClientID: oc.ClientID, Endpoint: oc.Endpoint, Scopes: oc.Scopes, RedirectURL: cb.redirectURL}
	deadline, _ := ctx.Deadline()
	prompt(Prompt{BrowserURL: c.AuthCodeURL(state, oauth2.S256ChallengeOption(verifier)), ExpiresAt: deadline})
	code, err := cb.wait(ctx)
	if err != nil {
		return err
	}
	tok, err := c.Exchange(p.ctx(ctx), code, oauth2.VerifierOption(verifier))
	if err != nil {
		return describeOAuthError("browser sign-in", err)
	}
	p.store(tok)
	return nil
}

func (p *oidcProvider) store(tok *oauth2.Token) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.tok = tok
}

func (p *oidcProvider) token(ctx context.Context) (Token, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.tok == nil {
		return Token{}, signInRequired("not signed in", nil)
	}
	if p.tok.AccessToken != "" && p.opts.Now().Add(p.opts.RefreshMargin).Before(p.tok.Expiry) {
		return p.result(), nil
	}
	if p.tok.RefreshToken == "" {
		p.tok = nil
		return Token{}, signInRequired("the session has expired and the provider gave no refresh token", nil)
	}
	oc, err := p.config(ctx)
	if err != nil {
		return Token{}, err
	}
	// A fresh source with an expired access token forces exactly one refresh.
	nt, err := oc.TokenSource(p.ctx(ctx), &oauth2.Token{RefreshToken: p.tok.RefreshToken}).Token()
	if err != nil {
		var re *oauth2.RetrieveError
		if errors.As(err, &re) && re.Response != nil && re.Response.StatusCode >= 400 && re.Response.StatusCode < 500 {
			p.tok = nil
			return Token{}, signInRequired("the sign-in provider refused to renew the session", err)
		}
		return Token{}, fmt.Errorf("could not renew the sign-in (will retry): %w", err)
	}
	if nt.RefreshToken == "" {
		nt.RefreshToken = p.tok.RefreshToken // providers that do not rotate
	}
	p.tok = nt
	p.log.Debug("access token renewed", "expires", nt.Expiry)
	return p.result(), nil
}

func (p *oidcProvider) result() Token {
	user := displayName(p.tok.AccessToken)
	if idt, ok := p.tok.Extra("id_token").(string); ok && user == "" {
		user = displayName(idt)
	}
	return Token{AccessToken: p.tok.AccessToken, ExpiresAt: p.tok.Expiry, User: user}
}

func (p *oidcProvider) logout() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.tok = nil
}

// describeOAuthError words a token endpoint refusal for a person.
func describeOAuthError(what string, err error) error {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		switch re.ErrorCode {
		case "access_denied", "authorization_declined":
			return fmt.Errorf("%s was declined: start again and approve it", what)
		case "expired_token":
			return fmt.Errorf("%s timed out before it was approved: start again", what)
		}
		if re.ErrorDescription != "" {
			return fmt.Errorf("%s failed: %s (%s)", what, re.ErrorDescription, re.ErrorCode)
		}
	}
	return fmt.Errorf("%s failed: %w", what, err)
}

// callback is the loopback listener of the browser flow.
type callback struct {
	ln          net.Listener
	srv         *http.Server
	redirectURL string
	got         chan url.Values
}

// listenLoopback binds 127.0.0.1 on a free port: never another interface.
// Only a redirect carrying state is taken; anything else is answered 400.
func listenLoopback(state string) (*callback, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("browser sign-in needs a local port on 127.0.0.1: %w", err)
	}
	cb := &callback{ln: ln, redirectURL: "http://" + ln.Addr().String() + "/callback", got: make(chan url.Values, 1)}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /callback", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		q := r.URL.Query()
		if subtle.ConstantTimeCompare([]byte(q.Get("state")), []byte(state)) != 1 {
			// Not our redirect (a stale tab, or a forgery): ignored.
			w.WriteHeader(http.StatusBadRequest)
			_, _ = w.Write([]byte("<html><body><h1>Unknown sign-in</h1><p>This is not the sign-in ghostwire is waiting for. Start again from ghostwire.</p></body></html>"))
			return
		}
		select {
		case cb.got <- q:
		default:
		}
		if q.Get("error") != "" {
			_, _ = w.Write([]byte("<html><body><h1>Sign-in failed</h1><p>Go back to ghostwire to see why and try again.</p></body></html>"))
			return
		}
		_, _ = w.Write([]byte("<html><body><h1>Signed in to ghostwire</h1><p>You can close this window.</p></body></html>"))
	})
	cb.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = cb.srv.Serve(ln) }()
	return cb, nil
}

func (cb *callback) wait(ctx context.Context) (string, error) {
	select {
	case <-ctx.Done():
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return "", errors.New("browser sign-in timed out: start again")
		}
		return "", ctx.Err()
	case q := <-cb.got:
		if e := q.Get("error"); e != "" {
			return "", fmt.Errorf("browser sign-in failed: %s %s", e, q.Get("error_description"))
		}
		if q.Get("code") == "" {
			return "", errors.New("browser sign-in failed: the provider sent no code")
		}
		return q.Get("code"), nil
	}
}

func (cb *callback) close() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_ = cb.srv.Shutdown(ctx)
}
