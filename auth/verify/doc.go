// Package verify is the server side of sign-in: it checks a bearer access
// token and says who it belongs to and whether they may use the VPN.
//
// Checks, in order: the token is a JWS signed with an allowed asymmetric
// algorithm by a key from the issuer's JWKS (coreos/go-oidc: discovery and
// JWKS cached, keys refetched on an unknown kid; "none" and HS256 are never
// accepted), iss exact, aud contains Config.Audience, exp and nbf, then tid
// (when Config.TenantID is set), the required scope, and authorization by app
// role or group object ID. Microsoft Graph tokens are refused with a clear
// message: they are not meant to be validated by anyone but Graph.
//
// Refusals are *Error values: Status 401 means "sign in again" (invalid,
// expired, wrong issuer or audience, missing scope), 403 means "signed in but
// not allowed" (role/group missing, group overage, wrong tenant); 503 means
// the issuer's discovery document could not be fetched yet.
//
//	v, err := verify.New(ctx, verify.EntraConfig(tenantID, apiAppID))
//	id, err := v.Verify(ctx, rawToken) // err is *verify.Error
package verify
