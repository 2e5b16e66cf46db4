package devidp

import (
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// publicClient is the one native public client (no secret, PKCE) the laptop
// signs in as. Loopback redirects match on path whatever the port (RFC 8252).
type publicClient struct {
	id       string
	apiScope string
}

var _ op.Client = (*publicClient)(nil)

// LoopbackRedirectURIs are the redirect URIs the client may use, on any port.
var LoopbackRedirectURIs = []string{
	"http://127.0.0.1", "http://127.0.0.1/", "http://127.0.0.1/callback",
	"http://localhost", "http://localhost/", "http://localhost/callback",
}

func (c *publicClient) GetID() string                       { return c.id }
func (c *publicClient) RedirectURIs() []string              { return LoopbackRedirectURIs }
func (c *publicClient) PostLogoutRedirectURIs() []string    { return nil }
func (c *publicClient) ApplicationType() op.ApplicationType { return op.ApplicationTypeNative }
func (c *publicClient) AuthMethod() oidc.AuthMethod         { return oidc.AuthMethodNone }
func (c *publicClient) ResponseTypes() []oidc.ResponseType {
	return []oidc.ResponseType{oidc.ResponseTypeCode}
}
func (c *publicClient) GrantTypes() []oidc.GrantType {
	return []oidc.GrantType{oidc.GrantTypeCode, oidc.GrantTypeRefreshToken, oidc.GrantTypeDeviceCode}
}
func (c *publicClient) LoginURL(id string) string           { return pathLogin + "?authRequestID=" + id }
func (c *publicClient) AccessTokenType() op.AccessTokenType { return op.AccessTokenTypeJWT }
func (c *publicClient) IDTokenLifetime() time.Duration      { return time.Hour }
func (c *publicClient) DevMode() bool                       { return false }
func (c *publicClient) RestrictAdditionalIdTokenScopes() func([]string) []string {
	return func(s []string) []string { return s }
}
func (c *publicClient) RestrictAdditionalAccessTokenScopes() func([]string) []string {
	return func(s []string) []string { return s }
}
func (c *publicClient) IsScopeAllowed(scope string) bool     { return scope == c.apiScope }
func (c *publicClient) IDTokenUserinfoClaimsAssertion() bool { return true }
func (c *publicClient) ClockSkew() time.Duration             { return 0 }

// authRequest is one authorization code flow in progress.
type authRequest struct {
	id            string
	created       time.Time
	clientID      string
	audience      []string
	redirectURI   string
	state         string
	nonce         string
	scopes        []string
	responseType  oidc.ResponseType
	responseMode  oidc.ResponseMode
	codeChallenge *oidc.CodeChallenge
	subject       string
	done          bool
	authTime      time.Time
}

var _ op.AuthRequest = (*authRequest)(nil)

func (a *authRequest) GetID() string                         { return a.id }
func (a *authRequest) GetACR() string                        { return "" }
func (a *authRequest) GetAMR() []string                      { return amr(a.done) }
func (a *authRequest) GetAudience() []string                 { return a.audience }
func (a *authRequest) GetAuthTime() time.Time                { return a.authTime }
func (a *authRequest) GetClientID() string                   { return a.clientID }
func (a *authRequest) GetCodeChallenge() *oidc.CodeChallenge { return a.codeChallenge }
func (a *authRequest) GetNonce() string                      { return a.nonce }
func (a *authRequest) GetRedirectURI() string                { return a.redirectURI }
func (a *authRequest) GetResponseType() oidc.ResponseType    { return a.responseType }
func (a *authRequest) GetResponseMode() oidc.ResponseMode    { return a.responseMode }
func (a *authRequest) GetScopes() []string                   { return a.scopes }
func (a *authRequest) GetState() string                      { return a.state }
func (a *authRequest) GetSubject() string                    { return a.subject }
func (a *authRequest) Done() bool                            { return a.done }

func amr(done bool) []string {
	if done {
		return []string{"user"}
	}
	return nil
}

// refreshToken is an opaque, single-use refresh token (rotated on every use).
type refreshToken struct {
	token    string
	subject  string
	clientID string
	audience []string
	scopes   []string
	authTime time.Time
	expires  time.Time
}

var _ op.RefreshTokenRequest = (*refreshToken)(nil)

func (r *refreshToken) GetAMR() []string            { return []string{"user"} }
func (r *refreshToken) GetAudience() []string       { return r.audience }
func (r *refreshToken) GetAuthTime() time.Time      { return r.authTime }
func (r *refreshToken) GetClientID() string         { return r.clientID }
func (r *refreshToken) GetScopes() []string         { return r.scopes }
func (r *refreshToken) GetSubject() string          { return r.subject }
func (r *refreshToken) SetCurrentScopes(s []string) { r.scopes = s }

// deviceAuth is one device authorization (RFC 8628) in progress.
type deviceAuth struct {
	clientID   string
	deviceCode string
	userCode   string
	scopes     []string
	expires    time.Time
	subject    string
	done       bool
	denied     bool
	consumed   bool
	authTime   time.Time
}

// mintRequest is the token request behind MintAccessToken.
type mintRequest struct {
	subject  string
	audience []string
	scopes   []string
}

func (m *mintRequest) GetSubject() string    { return m.subject }
func (m *mintRequest) GetAudience() []string { return m.audience }
func (m *mintRequest) GetScopes() []string   { return m.scopes }
