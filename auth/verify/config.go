package verify

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// EntraScope is the API scope a ghostwire client asks Entra for
// (api://<api app id>/vpn.connect); in the token's scp it appears bare.
const EntraScope = "vpn.connect"

// Config says which tokens to accept. Issuer, Audience and an authorization
// rule (AllowedRoles, AllowedGroups or AllowAnyUser) are required.
type Config struct {
	// Issuer is compared exactly with iss, and is where discovery is fetched
	// (Issuer + /.well-known/openid-configuration) unless DiscoveryURL is set.
	Issuer string
	// Audience must be one of the token's aud values (for Entra: the API app id).
	Audience string
	// TenantID, when set, must equal the tid claim.
	TenantID string
	// RequiredScope, when set, must be one of the token's scopes.
	RequiredScope string

	// AllowedRoles and AllowedGroups: a token is allowed when it carries any
	// of them. Groups are object IDs (GUIDs) for Entra, never names.
	AllowedRoles  []string
	AllowedGroups []string
	// AllowAnyUser accepts every valid token (for providers that already
	// restrict who can get a token, such as Entra with assignment required).
	AllowAnyUser bool
	// AdminRoles and AdminGroups mark Identity.Admin.
	AdminRoles  []string
	AdminGroups []string
	// AccessName names the access for people in refusals, e.g. "VPN Users"
	// (default: the first allowed role or group).
	AccessName string

	// Claim names; defaults roles, groups, scp (then scope), and for the
	// display name preferred_username, then upn, email, name.
	RolesClaim  string
	GroupsClaim string
	ScopeClaim  string
	UserClaim   string

	// SigningAlgs allowed (default RS256, RS384, RS512, PS256, ES256, ES384).
	// Symmetric algorithms and "none" are never allowed.
	SigningAlgs []string
	// DiscoveryURL is the base URL to fetch discovery from when it differs
	// from Issuer (the document's issuer must still equal Issuer).
	DiscoveryURL string
	// KeysMaxAge is the longest a fetched JWKS is trusted (default
	// DefaultKeysMaxAge, 15 min): a signing key the issuer withdraws is
	// refused within this time. The issuer's Cache-Control max-age or
	// Expires shortens it, down to KeysRefetchInterval.
	KeysMaxAge time.Duration
	// KeysRefetchInterval is the least time between two fetches of the
	// JWKS (default DefaultKeysRefetchInterval, 1 min): a token with an
	// unknown kid makes the server ask the issuer only when the last
	// fetch is older, whatever the requests carry.
	KeysRefetchInterval time.Duration
	// HTTPClient fetches discovery and keys (default: a client with a 10 s
	// timeout). Put a private CA here, never an insecure TLS setting.
	HTTPClient *http.Client
	// Now is the clock (tests).
	Now func() time.Time
	// Logger for discovery problems (default slog.Default()).
	Logger *slog.Logger
}

// EntraConfig accepts v2 access tokens of one Entra tenant for one API app:
// iss https://login.microsoftonline.com/<tid>/v2.0, aud = apiAppID, tid
// required, scope vpn.connect, app role VPN.User (admins: VPN.Admin). Change
// AllowedRoles/AllowedGroups as needed; the API app must set
// requestedAccessTokenVersion: 2.
func EntraConfig(tenantID, apiAppID string) Config {
	return Config{
		Issuer:        "https://login.microsoftonline.com/" + tenantID + "/v2.0",
		Audience:      apiAppID,
		TenantID:      tenantID,
		RequiredScope: EntraScope,
		AllowedRoles:  []string{"VPN.User"},
		AdminRoles:    []string{"VPN.Admin"},
	}
}

var (
	algsAllowed = map[string]bool{"RS256": true, "RS384": true, "RS512": true, "PS256": true, "PS384": true, "PS512": true, "ES256": true, "ES384": true, "ES512": true, "EdDSA": true}
	defaultAlgs = []string{"RS256", "RS384", "RS512", "PS256", "ES256", "ES384"}
)

func (c *Config) normalize() error {
	var errs []error
	u, err := url.Parse(c.Issuer)
	if c.Issuer == "" || err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		errs = append(errs, fmt.Errorf("issuer %q must be an https URL", c.Issuer))
	}
	if c.Audience == "" {
		errs = append(errs, errors.New("audience is required (for Entra: the API app id)"))
	}
	if len(c.AllowedRoles) == 0 && len(c.AllowedGroups) == 0 && !c.AllowAnyUser {
		errs = append(errs, errors.New("say who may connect: allowed roles, allowed groups, or allow any user"))
	}
	for _, a := range c.SigningAlgs {
		if !algsAllowed[a] {
			errs = append(errs, fmt.Errorf("signing algorithm %q is not allowed (only asymmetric ones are)", a))
		}
	}
	if c.KeysRefetchInterval < 0 || c.KeysMaxAge < 0 || (c.KeysMaxAge > 0 && c.KeysRefetchInterval > c.KeysMaxAge) {
		errs = append(errs, fmt.Errorf("the key set's refetch interval (%s) must be positive and at most its maximum age (%s)", c.KeysRefetchInterval, c.KeysMaxAge))
	}
	if len(errs) > 0 {
		return fmt.Errorf("token verifier configuration: %w", errors.Join(errs...))
	}
	if len(c.SigningAlgs) == 0 {
		c.SigningAlgs = defaultAlgs
	}
	def := func(s *string, v string) {
		if *s == "" {
			*s = v
		}
	}
	def(&c.RolesClaim, "roles")
	def(&c.GroupsClaim, "groups")
	if c.AccessName == "" {
		switch {
		case len(c.AllowedRoles) > 0:
			c.AccessName = "the " + c.AllowedRoles[0] + " app role"
		case len(c.AllowedGroups) > 0:
			c.AccessName = "the group " + c.AllowedGroups[0]
		}
	}
	if c.KeysMaxAge == 0 {
		c.KeysMaxAge = max(DefaultKeysMaxAge, c.KeysRefetchInterval)
	}
	if c.KeysRefetchInterval == 0 {
		c.KeysRefetchInterval = min(DefaultKeysRefetchInterval, c.KeysMaxAge)
	}
	if c.DiscoveryURL == "" {
		c.DiscoveryURL = c.Issuer
	}
	c.DiscoveryURL = strings.TrimSuffix(c.DiscoveryURL, "/")
	if c.HTTPClient == nil {
		c.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return nil
}
