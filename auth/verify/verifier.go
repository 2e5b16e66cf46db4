package verify

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
)

// maxTokenBytes bounds what is parsed at all.
const maxTokenBytes = 16 << 10

// nbfLeeway tolerates small clock differences with the issuer.
const nbfLeeway = time.Minute

// rediscoverEvery limits discovery retries while the issuer is unreachable.
const rediscoverEvery = 2 * time.Second

// Verifier checks access tokens; safe for concurrent use.
type Verifier struct {
	cfg  Config
	ctx  context.Context // long-lived, never cancelled: the key set fetches with it
	life context.Context // the background refresh of the key set ends with it

	mu       sync.Mutex
	verifier *oidc.IDTokenVerifier
	keys     *keySet
	lastErr  error
	lastTry  time.Time
}

// New checks cfg and fetches the issuer's discovery document. A bad cfg is
// an error; an unreachable issuer is not: New logs it and Verify retries
// (answering 503 meanwhile). Ready reports it.
func New(ctx context.Context, cfg Config) (*Verifier, error) {
	if err := cfg.normalize(); err != nil {
		return nil, err
	}
	v := &Verifier{cfg: cfg, ctx: context.WithoutCancel(ctx), life: ctx}
	if _, err := v.discover(ctx); err != nil {
		cfg.Logger.Warn("token issuer discovery failed; will retry on the next request", "issuer", cfg.Issuer, "error", err)
	}
	return v, nil
}

// Config is the effective configuration (defaults filled).
func (v *Verifier) Config() Config { return v.cfg }

// Ready is nil while the issuer's discovery document and a usable key set
// are held (fetching them if needed, within the key set's rate limit).
func (v *Verifier) Ready(ctx context.Context) error {
	if _, err := v.discover(ctx); err != nil {
		return err
	}
	return v.keySet().ready(ctx)
}

func (v *Verifier) keySet() *keySet {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.keys
}

func (v *Verifier) discover(ctx context.Context) (*oidc.IDTokenVerifier, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.verifier != nil {
		return v.verifier, nil
	}
	if v.lastErr != nil && time.Since(v.lastTry) < rediscoverEvery {
		return nil, v.lastErr
	}
	v.lastTry = time.Now()
	dctx := oidc.ClientContext(ctx, v.cfg.HTTPClient)
	if v.cfg.DiscoveryURL != strings.TrimSuffix(v.cfg.Issuer, "/") {
		dctx = oidc.InsecureIssuerURLContext(dctx, v.cfg.Issuer)
	}
	p, err := oidc.NewProvider(dctx, v.cfg.DiscoveryURL)
	if err != nil {
		v.lastErr = fmt.Errorf("fetch the OpenID configuration of %s: %w", v.cfg.Issuer, err)
		return nil, v.lastErr
	}
	if p.Endpoint().AuthURL == "" && p.Endpoint().TokenURL == "" {
		v.cfg.Logger.Warn("issuer discovery has no endpoints", "issuer", v.cfg.Issuer)
	}
	var doc struct {
		Issuer  string `json:"issuer"`
		JWKSURL string `json:"jwks_uri"`
	}
	if err := p.Claims(&doc); err != nil || doc.JWKSURL == "" {
		v.lastErr = fmt.Errorf("the OpenID configuration of %s names no jwks_uri", v.cfg.Issuer)
		return nil, v.lastErr
	}
	// Our own key set (keyset.go), not go-oidc's RemoteKeySet, which would
	// fetch the JWKS again for every token it cannot verify.
	v.keys = newKeySet(v.ctx, doc.JWKSURL, &v.cfg)
	v.verifier = oidc.NewVerifier(doc.Issuer, v.keys, &oidc.Config{
		ClientID:             v.cfg.Audience,
		SupportedSigningAlgs: v.cfg.SigningAlgs,
		Now:                  v.cfg.Now,
	})
	v.lastErr = nil
	go v.keys.run(v.life)
	return v.verifier, nil
}

// Verify checks raw (the bearer token, without "Bearer ") and returns who it
// belongs to. Every refusal is a *Error.
func (v *Verifier) Verify(ctx context.Context, raw string) (*Identity, error) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return nil, errUnauthorized("missing_token", "no access token was sent: sign in first", "empty token")
	}
	if len(raw) > maxTokenBytes {
		return nil, errUnauthorized("invalid_token", "the access token is not valid: sign in again", fmt.Sprintf("token of %d bytes", len(raw)))
	}
	unverified := peekClaims(raw)
	if isGraphToken(unverified) {
		return nil, errUnauthorized("graph_token",
			"this is a Microsoft Graph token, which ghostwire never accepts: the client must ask for a token for the VPN's own API scope (api://<api-app-id>/"+EntraScope+"); update the client or check its configuration",
			fmt.Sprintf("aud %v", unverified["aud"]))
	}
	ov, err := v.discover(ctx)
	if err != nil {
		return nil, &Error{Status: http.StatusServiceUnavailable, Code: "unavailable",
			Message: "the server cannot reach the sign-in provider right now: try again in a minute", Reason: err.Error()}
	}
	var keyErr keyOutcome
	tok, err := ov.Verify(context.WithValue(ctx, keyOutcomeKey{}, &keyErr), raw)
	if err != nil {
		if keyErr.err != nil {
			return nil, v.keyError(keyErr.err)
		}
		return nil, v.classify(err, unverified)
	}
	var claims map[string]any
	if err := tok.Claims(&claims); err != nil {
		return nil, errUnauthorized("invalid_token", "the access token is not valid: sign in again", "claims: "+err.Error())
	}
	if nbf, ok := numeric(claims["nbf"]); ok && v.cfg.Now().Add(nbfLeeway).Before(nbf) {
		return nil, errUnauthorized("token_not_yet_valid",
			"the access token is not valid yet: check that the clocks of this computer and the server are right, then sign in again",
			"nbf "+nbf.UTC().Format(time.RFC3339))
	}
	return v.authorize(tok, claims)
}

// keyError words a failure of the signature check.
func (v *Verifier) keyError(err error) *Error {
	var unavailable *keysUnavailableError
	var notYet *keyNotYetError
	switch {
	case errors.As(err, &notYet):
		return &Error{Status: http.StatusServiceUnavailable, Code: "unavailable", RetryAfter: max(notYet.retry, time.Second),
			Message: fmt.Sprintf("the access token is signed with a key this server has not seen yet; it asks the sign-in provider for new keys at most every %s: try again in %s (your sign-in is kept)",
				v.cfg.KeysRefetchInterval, max(notYet.retry, time.Second).Round(time.Second)),
			Reason: err.Error()}
	case errors.As(err, &unavailable):
		retry := unavailable.retry
		if retry <= 0 {
			retry = v.cfg.KeysRefetchInterval
		}
		return &Error{Status: http.StatusServiceUnavailable, Code: "unavailable", RetryAfter: retry,
			Message: "the server cannot check your sign-in right now because it cannot fetch the sign-in provider's signing keys: try again in a minute (your sign-in is kept)",
			Reason:  err.Error()}
	case errors.Is(err, errUnknownKey):
		return errUnauthorized("invalid_token",
			"the access token is signed with a key your sign-in provider does not publish (it may have been withdrawn): sign in again", err.Error())
	}
	return errUnauthorized("invalid_token", "the access token is not valid (bad signature or format): sign in again", err.Error())
}

// classify turns a go-oidc failure into a message for a person.
func (v *Verifier) classify(err error, unverified map[string]any) *Error {
	var exp *oidc.TokenExpiredError
	switch {
	case errors.As(err, &exp):
		return errUnauthorized("token_expired", "your sign-in has expired: sign in again", err.Error())
	case unverified == nil:
		return errUnauthorized("invalid_token", "the access token is not valid: sign in again", err.Error())
	case strings.Contains(err.Error(), "nbf"):
		return errUnauthorized("token_not_yet_valid",
			"the access token is not valid yet: check that the clocks of this computer and the server are right, then sign in again",
			err.Error())
	case strings.Contains(err.Error(), "different provider"):
		return errUnauthorized("wrong_issuer",
			fmt.Sprintf("the access token comes from another sign-in provider (%v), not %s: sign in again with this server's provider", unverified["iss"], v.cfg.Issuer),
			err.Error())
	case strings.Contains(err.Error(), "expected audience"):
		return errUnauthorized("wrong_audience",
			"the access token was issued for another application, not this VPN: sign in again (the client must ask for this server's API scope)",
			err.Error())
	}
	return errUnauthorized("invalid_token", "the access token is not valid (bad signature or format): sign in again", err.Error())
}

func (v *Verifier) authorize(tok *oidc.IDToken, claims map[string]any) (*Identity, error) {
	c := v.cfg
	tid, _ := claims["tid"].(string)
	if c.TenantID != "" && !strings.EqualFold(tid, c.TenantID) {
		return nil, &Error{Status: http.StatusForbidden, Code: "wrong_tenant",
			Message: "your account belongs to another organization than the one this VPN serves: sign in with your work account of that organization",
			Reason:  fmt.Sprintf("tid %q, want %q", tid, c.TenantID)}
	}
	if c.RequiredScope != "" && !slices.Contains(v.scopes(claims), c.RequiredScope) {
		// RFC 6750 §3.1 insufficient_scope: signing in again brings the
		// same token, so this is 403, for the admin to fix.
		return nil, &Error{Status: http.StatusForbidden, Code: "insufficient_scope", Scope: c.RequiredScope,
			Message: "your access token does not carry the scope " + c.RequiredScope + " that this VPN requires, so signing in again will not help: " +
				"ask your admin to grant (and consent to) that scope for the ghostwire client",
			Reason: fmt.Sprintf("scopes %v, want %s", v.scopes(claims), c.RequiredScope)}
	}
	oid, _ := claims["oid"].(string)
	id := &Identity{
		Issuer: tok.Issuer,
		Name:   v.displayName(claims),
		Roles:  stringList(claims[c.RolesClaim]),
		Groups: stringList(claims[c.GroupsClaim]),
	}
	if c.TenantID != "" && tid != "" && oid != "" {
		// Entra's rule: the user is tid + oid. For any other provider an
		// oid claim means nothing and is never used.
		id.Subject = tok.Issuer + "#" + tid + "/" + oid
		id.TenantID, id.ObjectID = tid, oid
	} else {
		if tok.Subject == "" {
			return nil, errUnauthorized("invalid_token", "the access token names no user: sign in again", "no sub claim")
		}
		id.Subject = tok.Issuer + "#" + tok.Subject
	}
	allowed := c.AllowAnyUser || intersects(id.Roles, c.AllowedRoles) || intersects(id.Groups, c.AllowedGroups)
	id.Admin = intersects(id.Roles, c.AdminRoles) || intersects(id.Groups, c.AdminGroups)
	if allowed {
		return id, nil
	}
	if len(c.AllowedGroups) > 0 && hasGroupOverage(claims, c.GroupsClaim) {
		return nil, &Error{Status: http.StatusForbidden, Code: "group_overage",
			Message: "your account is in too many groups for them to fit in the token, so group membership cannot be checked: " +
				"ask your admin to give you access through the API app's role (app roles) instead of a group",
			Reason: "groups claim replaced by _claim_names (overage); admin: assign an app role and set allowed roles"}
	}
	return nil, &Error{Status: http.StatusForbidden, Code: "not_allowed",
		Message: fmt.Sprintf("your account (%s) is not in the group allowed to use this VPN (ask your admin to add you to %s)", id.Name, c.AccessName),
		Reason:  fmt.Sprintf("roles %v groups %v; allowed roles %v groups %v", id.Roles, id.Groups, c.AllowedRoles, c.AllowedGroups)}
}

func (v *Verifier) scopes(claims map[string]any) []string {
	if v.cfg.ScopeClaim != "" {
		return stringList(claims[v.cfg.ScopeClaim])
	}
	if s := stringList(claims["scp"]); len(s) > 0 {
		return s
	}
	return stringList(claims["scope"])
}

func (v *Verifier) displayName(claims map[string]any) string {
	names := []string{"preferred_username", "upn", "email", "name"}
	if v.cfg.UserClaim != "" {
		names = []string{v.cfg.UserClaim}
	}
	for _, n := range names {
		if s, ok := claims[n].(string); ok && s != "" {
			return s
		}
	}
	return "unknown"
}

func errUnauthorized(code, msg, reason string) *Error {
	return &Error{Status: http.StatusUnauthorized, Code: code, Message: msg, Reason: reason}
}

// peekClaims decodes the payload without trusting it, only to word errors.
func peekClaims(raw string) map[string]any {
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		return nil
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return nil
	}
	var m map[string]any
	if json.Unmarshal(b, &m) != nil {
		return nil
	}
	return m
}

func isGraphToken(claims map[string]any) bool {
	for _, a := range stringList(claims["aud"]) {
		a = strings.ToLower(strings.TrimSuffix(a, "/"))
		if a == "00000003-0000-0000-c000-000000000000" || a == "https://graph.microsoft.com" || strings.HasPrefix(a, "https://graph.microsoft.com/") {
			return true
		}
	}
	return false
}

func hasGroupOverage(claims map[string]any, groupsClaim string) bool {
	if names, ok := claims["_claim_names"].(map[string]any); ok {
		if _, ok := names[groupsClaim]; ok {
			return true
		}
	}
	b, _ := claims["hasgroups"].(bool)
	return b
}

// stringList reads a claim that is a string (space-separated) or an array.
func stringList(v any) []string {
	switch t := v.(type) {
	case string:
		return strings.Fields(t)
	case []any:
		out := make([]string, 0, len(t))
		for _, x := range t {
			if s, ok := x.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

func intersects(have, want []string) bool {
	for _, w := range want {
		if slices.Contains(have, w) {
			return true
		}
	}
	return false
}

func numeric(v any) (time.Time, bool) {
	f, ok := v.(float64)
	if !ok {
		return time.Time{}, false
	}
	return time.Unix(int64(f), 0), true
}
