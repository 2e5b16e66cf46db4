// Package devidp is a real OpenID provider for development, tests and the demo,
// built on zitadel/oidc's op package with in-memory storage. Nothing it holds
// (signing key, codes, tokens) is ever written to disk.
//
// It serves discovery (/.well-known/openid-configuration), JWKS (/keys),
// device authorization (RFC 8628, /device_authorization), authorization code
// with PKCE for a public client redirecting to http://127.0.0.1:<any port>/...,
// refresh tokens (rotated on use) and JWT access tokens carrying aud, scp,
// scope, roles, groups, tid, oid, sub and preferred_username.
//
// There are no passwords: the provider is for machines you control. A device
// code is approved without a browser by
//
//   - Go: (*Provider).Approve(userCode, username)
//   - HTTP: POST /dev/approve with JSON {"user_code":"BCDF-GHJK","user":"demo@example.com"}
//     (or the same two fields as a form); 204 on success, 404 for an unknown or
//     expired code, 400 for an unknown user. POST /dev/deny {"user_code":...}
//     refuses it.
//
// A person can also use the pages /device (enter the code, pick a user) and
// /login (the page the authorization endpoint sends the browser to).
//
// The command (Command, mounted as `ghostwire-server dev-idp`) refuses to listen
// on anything but a loopback address unless --i-know-this-is-insecure is given,
// and then logs a WARNING at every start.
package devidp
