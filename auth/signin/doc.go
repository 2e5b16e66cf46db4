// Package signin is the client side of sign-in, used by the daemon. The
// server's GET /v1/config (api.Config) decides the provider:
//
//   - api.ProviderEntra: MSAL for Go (public client). Device code, and
//     interactive browser sign-in (auth code + PKCE) with MSAL's redirect
//     listener on http://localhost:<free port> (Go binds it to 127.0.0.1).
//     Authority https://login.microsoftonline.com/<tenant> unless
//     Options.EntraAuthority says otherwise.
//   - api.ProviderOIDC: golang.org/x/oauth2 against the issuer's discovery
//     document: RFC 8628 device flow (DeviceAuth + DeviceAccessToken, client id
//     in the form: AuthStyleInParams) and auth code + PKCE with a redirect to
//     http://127.0.0.1:<free port>/callback, served by a listener bound to
//     127.0.0.1 only. "openid" and "offline_access" are added to the scopes when
//     missing, so a refresh token is issued.
//
// The daemon never opens a browser: SignIn hands what a person must see to the
// prompt callback (Prompt.BrowserURL to open, or VerificationURI + UserCode),
// and the tray or the CLI shows it. Tokens live in memory only (the MSAL cache
// included); Logout drops them.
//
// API:
//
//	s, err := signin.New(cfg, signin.Options{HTTPClient: c, Logger: l})
//	err = s.SignIn(ctx, signin.Auto, func(p signin.Prompt) { ... })
//	tok, err := s.Token(ctx) // fresh access token, refreshed silently;
//	                         // errors.Is(err, signin.ErrSignInRequired) when refused
//	s.Logout()
//
// Auto runs the browser flow and the device flow at once; the first to finish
// wins and the other is cancelled. The prompt is then called once per flow as
// each starts, every call carrying all that is known so far, so a tray can open
// BrowserURL while a CLI on a remote shell shows the code.
package signin
