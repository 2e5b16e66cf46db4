package entratest

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

type device struct {
	userCode, scope string
	expires         time.Time
	user            string
	denied          bool
}

type authCode struct {
	user, redirectURI, challenge, scope, nonce string
	expires                                    time.Time
}

func lower(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{tenant}/v2.0/.well-known/openid-configuration", s.tenant(s.discovery))
	mux.HandleFunc("GET /{tenant}/discovery/v2.0/keys", s.tenant(func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, s.jwks())
	}))
	mux.HandleFunc("POST /{tenant}/oauth2/v2.0/devicecode", s.tenant(s.deviceCode))
	mux.HandleFunc("POST /{tenant}/oauth2/v2.0/token", s.tenant(s.token))
	mux.HandleFunc("GET /{tenant}/oauth2/v2.0/authorize", s.tenant(s.authorize))
	return mux
}

func (s *Server) tenant(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if t := r.PathValue("tenant"); t != s.TenantID {
			entraError(w, http.StatusBadRequest, "invalid_tenant", "AADSTS90002: Tenant '"+t+"' not found.")
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
		h(w, r)
	}
}

func (s *Server) discovery(w http.ResponseWriter, r *http.Request) {
	base := "https://" + r.Host + "/" + s.TenantID
	writeJSON(w, http.StatusOK, map[string]any{
		"issuer":                                s.Issuer(),
		"authorization_endpoint":                base + "/oauth2/v2.0/authorize",
		"token_endpoint":                        base + "/oauth2/v2.0/token",
		"device_authorization_endpoint":         base + "/oauth2/v2.0/devicecode",
		"jwks_uri":                              base + "/discovery/v2.0/keys",
		"end_session_endpoint":                  base + "/oauth2/v2.0/logout",
		"response_modes_supported":              []string{"query", "fragment", "form_post"},
		"response_types_supported":              []string{"code", "id_token", "code id_token", "id_token token"},
		"subject_types_supported":               []string{"pairwise"},
		"id_token_signing_alg_values_supported": []string{"RS256"},
		"scopes_supported":                      []string{"openid", "profile", "email", "offline_access"},
		"token_endpoint_auth_methods_supported": []string{"client_secret_post", "private_key_jwt", "client_secret_basic"},
		"tenant_region_scope":                   "EU",
		"cloud_instance_name":                   "microsoftonline.com",
	})
}

// checkScope keeps the API scope and refuses anything else but the OIDC ones.
func (s *Server) checkScope(raw string) (apiScope string, offline bool, err error) {
	for _, sc := range strings.Fields(raw) {
		switch sc {
		case "openid", "profile", "email":
		case "offline_access":
			offline = true
		case s.Scope():
			apiScope = sc
		default:
			return "", false, errors.New("AADSTS65001: The scope '" + sc + "' is not granted to this client in the fake tenant.")
		}
	}
	if apiScope == "" {
		return "", false, errors.New("AADSTS70011: The provided request must include the API scope " + s.Scope() + ".")
	}
	return apiScope, offline, nil
}

func (s *Server) deviceCode(w http.ResponseWriter, r *http.Request) {
	if r.PostFormValue("client_id") != s.ClientID {
		entraError(w, http.StatusBadRequest, "unauthorized_client", "AADSTS700016: Application not found in the directory.")
		return
	}
	scope, _, err := s.checkScope(r.PostFormValue("scope"))
	if err != nil {
		entraError(w, http.StatusBadRequest, "invalid_scope", err.Error())
		return
	}
	dc := randomString(32)
	uc := strings.ToUpper(randomString(6))[:8]
	uc = strings.NewReplacer("-", "X", "_", "Y").Replace(uc)
	s.mu.Lock()
	s.devices[dc] = &device{userCode: uc, scope: scope + " offline_access", expires: time.Now().Add(15 * time.Minute)}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{
		"user_code": uc, "device_code": dc, "verification_uri": "https://microsoft.com/devicelogin",
		"expires_in": 900, "interval": 1,
		"message": "To sign in, use a web browser to open the page https://microsoft.com/devicelogin and enter the code " + uc + " to authenticate.",
	})
}

func (s *Server) authorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if q.Get("client_id") != s.ClientID {
		entraError(w, http.StatusBadRequest, "unauthorized_client", "AADSTS700016: Application not found in the directory.")
		return
	}
	ru, err := url.Parse(q.Get("redirect_uri"))
	if err != nil || ru.Scheme != "http" || (ru.Hostname() != "localhost" && ru.Hostname() != "127.0.0.1") {
		entraError(w, http.StatusBadRequest, "invalid_request", "AADSTS50011: The redirect URI does not match a loopback redirect URI registered for the application.")
		return
	}
	if q.Get("response_type") != "code" || q.Get("code_challenge") == "" || q.Get("code_challenge_method") != "S256" {
		entraError(w, http.StatusBadRequest, "invalid_request", "AADSTS9002325: Proof Key for Code Exchange (S256) is required for public clients.")
		return
	}
	scope, _, err := s.checkScope(q.Get("scope"))
	if err != nil {
		entraError(w, http.StatusBadRequest, "invalid_scope", err.Error())
		return
	}
	user := s.opts.InteractiveUser
	if _, ok := s.users[lower(q.Get("login_hint"))]; ok {
		user = q.Get("login_hint")
	}
	code := randomString(32)
	s.mu.Lock()
	s.codes[code] = &authCode{user: user, redirectURI: ru.String(), challenge: q.Get("code_challenge"),
		scope: scope + " offline_access", nonce: q.Get("nonce"), expires: time.Now().Add(5 * time.Minute)}
	s.mu.Unlock()
	if q.Get("response_mode") == "form_post" {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_ = formPost.Execute(w, map[string]string{"Action": ru.String(), "Code": code, "State": q.Get("state")})
		return
	}
	v := ru.Query()
	v.Set("code", code)
	v.Set("state", q.Get("state"))
	ru.RawQuery = v.Encode()
	http.Redirect(w, r, ru.String(), http.StatusFound)
}

var formPost = template.Must(template.New("fp").Parse(`<html><body onload="document.forms[0].submit()">
<form method="post" action="{{.Action}}"><input type="hidden" name="code" value="{{.Code}}">
<input type="hidden" name="state" value="{{.State}}"></form></body></html>`))

func (s *Server) token(w http.ResponseWriter, r *http.Request) {
	if r.PostFormValue("client_id") != s.ClientID {
		entraError(w, http.StatusBadRequest, "unauthorized_client", "AADSTS700016: Application not found in the directory.")
		return
	}
	grant := r.PostFormValue("grant_type")
	s.mu.Lock()
	s.grants[grant]++
	s.mu.Unlock()
	switch grant {
	case "device_code", "urn:ietf:params:oauth:grant-type:device_code":
		s.tokenDevice(w, r)
	case "refresh_token":
		s.tokenRefresh(w, r)
	case "authorization_code":
		s.tokenCode(w, r)
	default:
		entraError(w, http.StatusBadRequest, "unsupported_grant_type", "AADSTS70003: The grant type is not supported.")
	}
}

func (s *Server) tokenDevice(w http.ResponseWriter, r *http.Request) {
	dc := r.PostFormValue("device_code")
	s.mu.Lock()
	d, ok := s.devices[dc]
	if ok && d.user != "" {
		delete(s.devices, dc) // a device code yields tokens once
	}
	s.mu.Unlock()
	switch {
	case !ok || time.Now().After(d.expires):
		entraError(w, http.StatusBadRequest, "expired_token", "AADSTS70020: The provided value for the input parameter 'device_code' is not valid or has expired.")
	case d.denied:
		entraError(w, http.StatusBadRequest, "authorization_declined", "AADSTS70000: The user declined the sign-in.")
	case d.user == "":
		entraError(w, http.StatusBadRequest, "authorization_pending", "AADSTS70016: OAuth 2.0 device flow error. Authorization is pending.")
	default:
		s.issue(w, d.user, d.scope, "")
	}
}

func (s *Server) tokenRefresh(w http.ResponseWriter, r *http.Request) {
	rt := r.PostFormValue("refresh_token")
	if _, _, err := s.checkScope(r.PostFormValue("scope")); err != nil {
		entraError(w, http.StatusBadRequest, "invalid_scope", err.Error())
		return
	}
	s.mu.Lock()
	user, ok := s.refresh[rt]
	delete(s.refresh, rt)
	s.mu.Unlock()
	if !ok {
		entraError(w, http.StatusBadRequest, "invalid_grant", "AADSTS700082: The refresh token has expired or was revoked. Sign in again.")
		return
	}
	s.issue(w, user, s.Scope()+" offline_access", "")
}

func (s *Server) tokenCode(w http.ResponseWriter, r *http.Request) {
	code := r.PostFormValue("code")
	s.mu.Lock()
	c, ok := s.codes[code]
	delete(s.codes, code)
	s.mu.Unlock()
	if !ok || time.Now().After(c.expires) {
		entraError(w, http.StatusBadRequest, "invalid_grant", "AADSTS70008: The provided authorization code or refresh token has expired or was already used.")
		return
	}
	sum := sha256.Sum256([]byte(r.PostFormValue("code_verifier")))
	if base64.RawURLEncoding.EncodeToString(sum[:]) != c.challenge {
		entraError(w, http.StatusBadRequest, "invalid_grant", "AADSTS501481: The Code_Verifier does not match the code_challenge supplied in the authorization request.")
		return
	}
	if r.PostFormValue("redirect_uri") != c.redirectURI {
		entraError(w, http.StatusBadRequest, "invalid_grant", "AADSTS50148: The redirect_uri does not match the one of the authorization request.")
		return
	}
	s.issue(w, c.user, c.scope, c.nonce)
}

func (s *Server) issue(w http.ResponseWriter, username, scope, nonce string) {
	u := s.users[lower(username)]
	at, err := s.AccessToken(username)
	if err != nil {
		entraError(w, http.StatusInternalServerError, "server_error", err.Error())
		return
	}
	idt, err := s.idToken(u, nonce)
	if err != nil {
		entraError(w, http.StatusInternalServerError, "server_error", err.Error())
		return
	}
	resp := map[string]any{
		"token_type": "Bearer", "scope": strings.TrimSpace(strings.Replace(scope, "offline_access", "", 1)),
		"expires_in": int(s.opts.AccessTokenLifetime.Seconds()), "ext_expires_in": int(s.opts.AccessTokenLifetime.Seconds()),
		"access_token": at, "id_token": idt, "client_info": clientInfo(u, s.TenantID),
	}
	if slices.Contains(strings.Fields(scope), "offline_access") {
		rt := randomString(48)
		s.mu.Lock()
		s.refresh[rt] = u.Username
		s.mu.Unlock()
		resp["refresh_token"] = rt
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, resp)
}

// Approve signs a user in for a pending device code, as a person would at
// microsoft.com/devicelogin.
func (s *Server) Approve(userCode, username string) error {
	if _, ok := s.users[lower(username)]; !ok {
		return errors.New("entratest: no user " + username)
	}
	return s.decide(userCode, func(d *device) { d.user = username })
}

// Deny declines a pending device code.
func (s *Server) Deny(userCode string) error {
	return s.decide(userCode, func(d *device) { d.denied = true })
}

func (s *Server) decide(userCode string, f func(*device)) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, d := range s.devices {
		if d.userCode == strings.ToUpper(strings.TrimSpace(userCode)) && d.user == "" && !d.denied {
			f(d)
			return nil
		}
	}
	return errors.New("entratest: no pending device code " + userCode)
}

// RevokeRefreshTokens makes every refresh token invalid (as a password
// reset or an admin revocation does): the next refresh gets invalid_grant.
func (s *Server) RevokeRefreshTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.refresh)
}

// TokenRequests counts token endpoint calls by grant_type.
func (s *Server) TokenRequests(grant string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.grants[grant]
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func entraError(w http.ResponseWriter, status int, code, desc string) {
	writeJSON(w, status, map[string]any{
		"error": code, "error_description": desc, "error_codes": []int{},
		"timestamp": time.Now().UTC().Format("2006-01-02 15:04:05Z"), "trace_id": guid(), "correlation_id": guid(),
	})
}
