package devidp

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/zitadel/oidc/v3/pkg/crypto"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// Defaults of Options.
const (
	DefaultClientID  = "ghostwire-cli"
	DefaultAudience  = "ghostwire-server"
	DefaultAPIScope  = "vpn.connect"
	defaultATLife    = time.Hour
	defaultRTLife    = 24 * time.Hour
	defaultDevLife   = 10 * time.Minute
	defaultPollEvery = 5 * time.Second
)

// ErrUnknownUserCode is returned when a user code is unknown, expired or
// already decided.
var ErrUnknownUserCode = errors.New("this code is unknown, expired or already used: start the sign-in again")

// ErrUnknownUser is returned for a user name the provider does not have.
var ErrUnknownUser = errors.New("no such user in the development provider")

// Options configure a Provider. Zero values take the defaults.
type Options struct {
	// Issuer is the public URL of the provider (https://host:port, no path),
	// exactly as clients and verifiers reach it.
	Issuer string
	// ClientID of the one public client (default "ghostwire-cli").
	ClientID string
	// Audience is the aud of access tokens (default "ghostwire-server"). The
	// client id is always added too, as RFC 8628 flows name the client.
	Audience string
	// APIScope is the scope the client asks for and that lands in scp
	// (default "vpn.connect").
	APIScope string
	// TenantID is the tid claim (default DefaultTenantID).
	TenantID string
	// Users (default DefaultUsers()).
	Users []User
	// AccessTokenLifetime (default 1h); RefreshTokenLifetime (default 24h).
	AccessTokenLifetime  time.Duration
	RefreshTokenLifetime time.Duration
	// DeviceCodeLifetime (default 10m) and PollInterval (default 5s; whole
	// seconds, at least 1s) of device authorization.
	DeviceCodeLifetime time.Duration
	PollInterval       time.Duration
	Logger             *slog.Logger
}

func (o *Options) setDefaults() error {
	if o.Issuer == "" {
		return errors.New("devidp: Options.Issuer is required (the URL clients use to reach the provider)")
	}
	u, err := url.Parse(o.Issuer)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || (u.Path != "" && u.Path != "/") {
		return fmt.Errorf("devidp: issuer %q must be an http(s) URL with a host and no path", o.Issuer)
	}
	o.Issuer = strings.TrimSuffix(o.Issuer, "/")
	def := func(s *string, v string) {
		if *s == "" {
			*s = v
		}
	}
	def(&o.ClientID, DefaultClientID)
	def(&o.Audience, DefaultAudience)
	def(&o.APIScope, DefaultAPIScope)
	def(&o.TenantID, DefaultTenantID)
	defd := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	defd(&o.AccessTokenLifetime, defaultATLife)
	defd(&o.RefreshTokenLifetime, defaultRTLife)
	defd(&o.DeviceCodeLifetime, defaultDevLife)
	defd(&o.PollInterval, defaultPollEvery)
	if o.PollInterval < time.Second {
		o.PollInterval = time.Second
	}
	if o.Users == nil {
		o.Users = DefaultUsers()
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return nil
}

// Provider is a running development OpenID provider; serve Handler().
type Provider struct {
	opts        Options
	users       map[string]*User // by lower-case user name
	bySubject   map[string]*User
	client      *publicClient
	store       *storage
	op          *op.Provider
	handler     http.Handler
	log         *slog.Logger
	interceptor *op.IssuerInterceptor
}

// New builds a provider from opts. It does not listen: serve Handler().
func New(opts Options) (*Provider, error) {
	if err := opts.setDefaults(); err != nil {
		return nil, err
	}
	users, err := normalizeUsers(opts.Users)
	if err != nil {
		return nil, fmt.Errorf("devidp: %w", err)
	}
	p := &Provider{opts: opts, users: users, bySubject: map[string]*User{}, log: opts.Logger.With("component", "devidp")}
	for _, u := range users {
		if _, dup := p.bySubject[u.Subject]; dup {
			return nil, fmt.Errorf("devidp: two users share the subject %q", u.Subject)
		}
		p.bySubject[u.Subject] = u
	}
	p.client = &publicClient{id: opts.ClientID, apiScope: opts.APIScope}
	if p.store, err = newStorage(p); err != nil {
		return nil, err
	}
	var key [32]byte
	_, _ = rand.Read(key[:])
	cfg := &op.Config{
		CryptoKey:             key,
		CryptoKeyId:           "k1",
		CodeMethodS256:        true,
		AuthMethodPost:        true,
		GrantTypeRefreshToken: true,
		DeviceAuthorization: op.DeviceAuthorizationConfig{
			Lifetime:     opts.DeviceCodeLifetime,
			PollInterval: opts.PollInterval,
			UserFormPath: pathDevice,
			UserCode:     op.UserCodeBase20,
		},
	}
	var popts []op.Option
	if strings.HasPrefix(opts.Issuer, "http://") {
		popts = append(popts, op.WithAllowInsecure())
	}
	p.op, err = op.NewProvider(cfg, p.store, op.StaticIssuer(opts.Issuer), popts...)
	if err != nil {
		return nil, fmt.Errorf("devidp: %w", err)
	}
	p.interceptor = op.NewIssuerInterceptor(p.op.IssuerFromRequest)
	p.handler = p.routes()
	return p, nil
}

// Handler serves the whole provider.
func (p *Provider) Handler() http.Handler { return p.handler }

// Issuer is the iss of every token.
func (p *Provider) Issuer() string { return p.opts.Issuer }

// ClientID is the public client to sign in as.
func (p *Provider) ClientID() string { return p.opts.ClientID }

// Audience is the aud a verifier must require.
func (p *Provider) Audience() string { return p.opts.Audience }

// APIScope is the scope that lands in scp.
func (p *Provider) APIScope() string { return p.opts.APIScope }

// TenantID is the tid claim of every token.
func (p *Provider) TenantID() string { return p.opts.TenantID }

// Scopes are what a client should request: openid, profile, offline_access
// (for a refresh token) and the API scope.
func (p *Provider) Scopes() []string {
	return []string{oidc.ScopeOpenID, oidc.ScopeProfile, oidc.ScopeOfflineAccess, p.opts.APIScope}
}

// User returns a configured user by name (case-insensitive).
func (p *Provider) User(name string) (User, bool) {
	u, ok := p.users[strings.ToLower(strings.TrimSpace(name))]
	if !ok {
		return User{}, false
	}
	return *u, true
}

// Subject returns the sub claim of a user, for tests.
func (p *Provider) Subject(name string) string {
	u, _ := p.User(name)
	return u.Subject
}

func (p *Provider) userBySubject(sub string) (*User, bool) {
	u, ok := p.bySubject[sub]
	return u, ok
}

func (p *Provider) audience(clientID string) []string {
	aud := []string{p.opts.Audience}
	if clientID != "" && clientID != p.opts.Audience {
		aud = append(aud, clientID)
	}
	return aud
}

// claimsFor are the private claims of a user's access token.
func (p *Provider) claimsFor(sub string, scopes []string) (map[string]any, error) {
	u, ok := p.userBySubject(sub)
	if !ok {
		return nil, oidc.ErrAccessDenied().WithDescription("the user no longer exists")
	}
	var api []string
	for _, s := range scopes {
		switch s {
		case oidc.ScopeOpenID, oidc.ScopeProfile, oidc.ScopeEmail, oidc.ScopeOfflineAccess:
		default:
			api = append(api, s)
		}
	}
	c := map[string]any{
		"tid":                p.opts.TenantID,
		"oid":                u.ObjectID,
		"preferred_username": u.Username,
		"name":               u.Name,
		"scope":              strings.Join(scopes, " "),
	}
	if len(api) > 0 {
		c["scp"] = strings.Join(api, " ")
	}
	if len(u.Roles) > 0 {
		c["roles"] = slices.Clone(u.Roles)
	}
	if len(u.Groups) > 0 {
		c["groups"] = slices.Clone(u.Groups)
	}
	return c, nil
}

// Approve approves a pending device code as user, like a person would on
// the /device page.
func (p *Provider) Approve(userCode, username string) error {
	u, ok := p.users[strings.ToLower(strings.TrimSpace(username))]
	if !ok {
		return fmt.Errorf("%w: %q", ErrUnknownUser, username)
	}
	if err := p.store.decideDevice(userCode, u); err != nil {
		return err
	}
	p.log.Info("device code approved", "user_code", normalizeUserCode(userCode), "user", u.Username)
	return nil
}

// Deny refuses a pending device code; the client gets access_denied.
func (p *Provider) Deny(userCode string) error {
	if err := p.store.decideDevice(userCode, nil); err != nil {
		return err
	}
	p.log.Info("device code denied", "user_code", normalizeUserCode(userCode))
	return nil
}

// PendingUserCodes lists the device codes waiting for approval.
func (p *Provider) PendingUserCodes() []string { return p.store.pendingUserCodes() }

// RevokeUser drops every refresh token of a user, so the next refresh is
// refused (invalid_grant) and the client must sign in again.
func (p *Provider) RevokeUser(username string) error {
	u, ok := p.User(username)
	if !ok {
		return fmt.Errorf("%w: %q", ErrUnknownUser, username)
	}
	n := p.store.revokeSubject(u.Subject)
	p.log.Info("refresh tokens revoked", "user", u.Username, "count", n)
	return nil
}

// RotateKey makes a new signing key. The old one stays in the JWKS, so
// tokens signed before still verify; new tokens carry the new kid.
func (p *Provider) RotateKey() error {
	k, err := newSigningKey()
	if err != nil {
		return err
	}
	p.store.mu.Lock()
	p.store.keys = append([]*signingKey{k}, p.store.keys...)
	p.store.mu.Unlock()
	return nil
}

// MintAccessToken signs an access token for user directly, exactly as the
// token endpoint would, without any flow (for tests and benchmarks).
func (p *Provider) MintAccessToken(username string) (string, error) {
	return p.MintAccessTokenFor(username, p.opts.AccessTokenLifetime)
}

// MintAccessTokenFor is MintAccessToken with a chosen lifetime.
func (p *Provider) MintAccessTokenFor(username string, lifetime time.Duration) (string, error) {
	u, ok := p.User(username)
	if !ok {
		return "", fmt.Errorf("%w: %q", ErrUnknownUser, username)
	}
	req := &mintRequest{subject: u.Subject, audience: p.audience(p.opts.ClientID), scopes: []string{oidc.ScopeOpenID, p.opts.APIScope}}
	id, _, err := p.store.CreateAccessToken(context.Background(), req)
	if err != nil {
		return "", err
	}
	return op.CreateJWT(context.Background(), p.opts.Issuer, req, time.Now().Add(lifetime), id, p.client, p.store)
}

// SignClaims signs arbitrary claims with the provider's current key (RS256,
// with its kid), for tests that need tokens the flows never produce: expired,
// not yet valid, wrong audience, missing claims.
func (p *Provider) SignClaims(claims map[string]any) (string, error) {
	key, _ := p.store.SigningKey(context.Background())
	signer, err := op.SignerFromKey(key)
	if err != nil {
		return "", err
	}
	return crypto.Sign(claims, signer)
}

// Claims returns the claims MintAccessToken would put in a token for user,
// as a starting point for SignClaims.
func (p *Provider) Claims(username string) (map[string]any, error) {
	u, ok := p.User(username)
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrUnknownUser, username)
	}
	c, err := p.claimsFor(u.Subject, []string{oidc.ScopeOpenID, p.opts.APIScope})
	if err != nil {
		return nil, err
	}
	now := time.Now()
	c["iss"] = p.opts.Issuer
	c["sub"] = u.Subject
	c["aud"] = p.audience(p.opts.ClientID)
	c["client_id"] = p.opts.ClientID
	c["iat"] = now.Unix()
	c["nbf"] = now.Unix()
	c["exp"] = now.Add(p.opts.AccessTokenLifetime).Unix()
	c["jti"] = randomString(12)
	return c, nil
}
