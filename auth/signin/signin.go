package signin

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/ghostwire/ghostwire/server/api"
)

// Mode chooses the sign-in flow.
type Mode int

const (
	// Auto runs Browser and DeviceCode together; the first to finish wins.
	Auto Mode = iota
	// DeviceCode shows a code to enter on another device (RFC 8628).
	DeviceCode
	// Browser opens the provider's page; it redirects to a loopback listener.
	Browser
)

func (m Mode) String() string {
	switch m {
	case DeviceCode:
		return "device-code"
	case Browser:
		return "browser"
	}
	return "auto"
}

// ParseMode reads "auto", "device-code" (or "device") and "browser".
func ParseMode(s string) (Mode, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "auto":
		return Auto, nil
	case "device", "device-code", "devicecode":
		return DeviceCode, nil
	case "browser":
		return Browser, nil
	}
	return Auto, fmt.Errorf("unknown sign-in mode %q: use auto, device-code or browser", s)
}

// Prompt is what a person must see to sign in. Fields are empty when the flow
// that fills them has not started (or is not used).
type Prompt struct {
	// BrowserURL is the page to open in a browser on this machine.
	BrowserURL string
	// VerificationURI is where to enter UserCode, on any device.
	VerificationURI string
	// VerificationURIComplete already carries the code (may be empty).
	VerificationURIComplete string
	UserCode                string
	// Message is the provider's own instruction text, when it gives one.
	Message string
	// ExpiresAt is when the code (or the browser flow) stops working.
	ExpiresAt time.Time
}

// Token is a valid access token for the server.
type Token struct {
	AccessToken string
	ExpiresAt   time.Time
	// User is the display name (preferred_username), for showing only.
	User string
}

// ErrSignInRequired means there is no session or the provider refused to
// renew it: the person has to sign in again.
var ErrSignInRequired = errors.New("sign-in required")

// Options tune a Session.
type Options struct {
	// HTTPClient talks to the provider (carry a private CA here; never an
	// insecure TLS setting). Default: a client with a 30 s timeout.
	HTTPClient *http.Client
	Logger     *slog.Logger
	// EntraAuthority overrides https://login.microsoftonline.com/<tenant>
	// (sovereign clouds).
	EntraAuthority string
	// BrowserTimeout bounds the browser flow (default 10 minutes).
	BrowserTimeout time.Duration
	// RefreshMargin: a token with less than this left is renewed first
	// (default 1 minute; MSAL uses its own 5 minutes).
	RefreshMargin time.Duration
	// Now is the clock (tests).
	Now func() time.Time
}

// provider is one kind of sign-in (Entra via MSAL, any OIDC via x/oauth2).
type provider interface {
	deviceCode(ctx context.Context, prompt func(Prompt)) error
	browser(ctx context.Context, prompt func(Prompt)) error
	token(ctx context.Context) (Token, error)
	logout()
}

// Session holds one person's sign-in with one server, in memory.
type Session struct {
	cfg  api.Config
	opts Options
	log  *slog.Logger

	signInMu sync.Mutex // one SignIn at a time
	p        provider
}

// New prepares a session for the provider the server named. It does no I/O.
func New(cfg api.Config, opts Options) (*Session, error) {
	if opts.HTTPClient == nil {
		opts.HTTPClient = &http.Client{Timeout: 30 * time.Second}
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.BrowserTimeout <= 0 {
		opts.BrowserTimeout = 10 * time.Minute
	}
	if opts.RefreshMargin <= 0 {
		opts.RefreshMargin = time.Minute
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if cfg.ClientID == "" {
		return nil, errors.New("the server's sign-in configuration has no client id: ask the server's admin to set it")
	}
	s := &Session{cfg: cfg, opts: opts, log: opts.Logger.With("component", "signin", "provider", cfg.Provider)}
	var err error
	switch cfg.Provider {
	case api.ProviderEntra:
		s.p, err = newEntra(cfg, opts, s.log)
	case api.ProviderOIDC:
		s.p, err = newOIDC(cfg, opts, s.log)
	default:
		err = fmt.Errorf("the server asks for sign-in provider %q, which this client does not know: update ghostwire", cfg.Provider)
	}
	if err != nil {
		return nil, err
	}
	return s, nil
}

// SignIn runs an interactive sign-in and keeps the result in memory. prompt
// is called from SignIn's goroutines and must not block for long.
func (s *Session) SignIn(ctx context.Context, mode Mode, prompt func(Prompt)) error {
	if prompt == nil {
		return errors.New("signin: a prompt callback is required to show the sign-in URL or code")
	}
	s.signInMu.Lock()
	defer s.signInMu.Unlock()
	s.log.Info("sign-in started", "mode", mode.String())
	var err error
	switch mode {
	case DeviceCode:
		err = s.p.deviceCode(ctx, prompt)
	case Browser:
		bctx, cancel := context.WithTimeout(ctx, s.opts.BrowserTimeout)
		err = s.p.browser(bctx, prompt)
		cancel()
	default:
		err = s.auto(ctx, prompt)
	}
	if err != nil {
		s.log.Warn("sign-in failed", "mode", mode.String(), "error", err)
		return err
	}
	s.log.Info("signed in", "mode", mode.String())
	return nil
}

// auto races the browser and device flows, merging what each shows.
func (s *Session) auto(ctx context.Context, prompt func(Prompt)) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var mu sync.Mutex
	var shown Prompt
	merge := func(p Prompt) {
		mu.Lock()
		if p.BrowserURL != "" {
			shown.BrowserURL = p.BrowserURL
		}
		if p.UserCode != "" {
			shown.UserCode, shown.VerificationURI, shown.VerificationURIComplete, shown.Message =
				p.UserCode, p.VerificationURI, p.VerificationURIComplete, p.Message
		}
		if shown.ExpiresAt.IsZero() || (!p.ExpiresAt.IsZero() && p.ExpiresAt.After(shown.ExpiresAt)) {
			shown.ExpiresAt = p.ExpiresAt
		}
		cp := shown
		mu.Unlock()
		prompt(cp)
	}
	errs := make(chan error, 2)
	go func() {
		bctx, bcancel := context.WithTimeout(ctx, s.opts.BrowserTimeout)
		defer bcancel()
		errs <- s.p.browser(bctx, merge)
	}()
	go func() { errs <- s.p.deviceCode(ctx, merge) }()
	var first error
	for i := 0; i < 2; i++ {
		err := <-errs
		if err == nil {
			cancel() // the other flow stops; its error is ignored
			return nil
		}
		if first == nil && !errors.Is(err, context.Canceled) {
			first = err
		}
	}
	if first == nil {
		first = ctx.Err()
	}
	return first
}

// Token returns a valid access token, renewing it silently when needed. It
// returns an error matching ErrSignInRequired when there is no session or
// the provider refused the renewal; other errors are transient (network).
func (s *Session) Token(ctx context.Context) (Token, error) {
	return s.p.token(ctx)
}

// Logout forgets every token and account, in memory.
func (s *Session) Logout() {
	s.p.logout()
	s.log.Info("signed out")
}

// Config is the server configuration the session was made for.
func (s *Session) Config() api.Config { return s.cfg }

// displayName reads a person's name from a JWT without trusting it (for
// display only; the server verifies the token). Opaque tokens give "".
func displayName(jwt string) string {
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		return ""
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return ""
	}
	var c map[string]any
	if json.Unmarshal(b, &c) != nil {
		return ""
	}
	for _, k := range []string{"preferred_username", "upn", "email", "name"} {
		if s, ok := c[k].(string); ok && s != "" {
			return s
		}
	}
	return ""
}

// signInRequired wraps cause so that errors.Is(err, ErrSignInRequired).
func signInRequired(why string, cause error) error {
	if cause == nil {
		return fmt.Errorf("%w: %s", ErrSignInRequired, why)
	}
	return fmt.Errorf("%w: %s (%v)", ErrSignInRequired, why, cause)
}
