// Package verify is the server side of sign-in: it checks a bearer access
// token and says who it belongs to and whether they may use the VPN.
//
// Checks, in order: the token is a JWS signed with an allowed asymmetric
// algorithm by a key from the issuer's JWKS ("none" and HS256 are never
// accepted), iss exact, aud contains Config.Audience, exp and nbf, then tid
// (when Config.TenantID is set), the required scope, and authorization by app
// role or group object ID. Microsoft Graph tokens are refused with a clear
// message: they are not meant to be validated by anyone but Graph.
//
// coreos/go-oidc does discovery and the claims; the JWKS is our own key set
// (keyset.go, on go-jose): it lives for the issuer's cache lifetime within
// [KeysRefetchInterval, KeysMaxAge] and is refreshed in the background, so a
// withdrawn key is refused within KeysMaxAge; it is fetched at most once per
// KeysRefetchInterval, and only for a kid it does not hold, whatever tokens
// arrive.
//
// Refusals are *Error values: Status 401 means "sign in again" (invalid,
// expired, wrong issuer or audience, unknown signing key), 403 means "signed
// in but not allowed" (role/group missing, group overage, wrong tenant,
// missing scope: Code insufficient_scope, Scope set); 503 means the token
// could not be checked now (discovery or JWKS unreachable, or a key not seen
// yet): the client retries, RetryAfter says when.
//
//	v, err := verify.New(ctx, verify.EntraConfig(tenantID, apiAppID))
//	id, err := v.Verify(ctx, rawToken) // err is *verify.Error
package verify
