package devidp

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// storage is the in-memory op.Storage (plus device authorization).
type storage struct {
	p *Provider

	mu        sync.Mutex
	authReqs  map[string]*authRequest // by id
	codes     map[string]string       // code -> auth request id
	refresh   map[string]*refreshToken
	devices   map[string]*deviceAuth // by device code
	userCodes map[string]string      // user code -> device code
	tokens    map[string]string      // access token id -> subject
	keys      []*signingKey          // keys[0] signs; all are published
}

var (
	_ op.Storage                        = (*storage)(nil)
	_ op.DeviceAuthorizationStorage     = (*storage)(nil)
	_ op.CanGetPrivateClaimsFromRequest = (*storage)(nil)
	_ op.CanSetUserinfoFromRequest      = (*storage)(nil)
)

type signingKey struct {
	id  string
	key *rsa.PrivateKey
}

func (k *signingKey) SignatureAlgorithm() jose.SignatureAlgorithm { return jose.RS256 }
func (k *signingKey) Key() any                                    { return k.key }
func (k *signingKey) ID() string                                  { return k.id }

type publicKey struct{ *signingKey }

func (k publicKey) Algorithm() jose.SignatureAlgorithm { return jose.RS256 }
func (k publicKey) Use() string                        { return "sig" }
func (k publicKey) Key() any                           { return &k.key.PublicKey }

func newSigningKey() (*signingKey, error) {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, fmt.Errorf("generate signing key: %w", err)
	}
	return &signingKey{id: randomString(8), key: k}, nil
}

func randomString(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func newStorage(p *Provider) (*storage, error) {
	k, err := newSigningKey()
	if err != nil {
		return nil, err
	}
	return &storage{
		p:         p,
		authReqs:  map[string]*authRequest{},
		codes:     map[string]string{},
		refresh:   map[string]*refreshToken{},
		devices:   map[string]*deviceAuth{},
		userCodes: map[string]string{},
		tokens:    map[string]string{},
		keys:      []*signingKey{k},
	}, nil
}

var errNotFound = errors.New("not found")

// --- authorization code flow ---

func (s *storage) CreateAuthRequest(_ context.Context, req *oidc.AuthRequest, userID string) (op.AuthRequest, error) {
	if len(req.Prompt) == 1 && req.Prompt[0] == oidc.PromptNone {
		return nil, oidc.ErrLoginRequired()
	}
	a := &authRequest{
		id:           randomString(16),
		created:      time.Now(),
		clientID:     req.ClientID,
		audience:     s.p.audience(req.ClientID),
		redirectURI:  req.RedirectURI,
		state:        req.State,
		nonce:        req.Nonce,
		scopes:       req.Scopes,
		responseType: req.ResponseType,
		responseMode: req.ResponseMode,
		subject:      userID,
	}
	if req.CodeChallenge != "" {
		a.codeChallenge = &oidc.CodeChallenge{Challenge: req.CodeChallenge, Method: req.CodeChallengeMethod}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.gcLocked()
	s.authReqs[a.id] = a
	return a, nil
}

func (s *storage) AuthRequestByID(_ context.Context, id string) (op.AuthRequest, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.authReqs[id]
	if !ok {
		return nil, fmt.Errorf("auth request %w", errNotFound)
	}
	return a, nil
}

func (s *storage) AuthRequestByCode(_ context.Context, code string) (op.AuthRequest, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	id, ok := s.codes[code]
	if !ok {
		return nil, fmt.Errorf("code %w", errNotFound)
	}
	a, ok := s.authReqs[id]
	if !ok {
		return nil, fmt.Errorf("auth request %w", errNotFound)
	}
	return a, nil
}

func (s *storage) SaveAuthCode(_ context.Context, id, code string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.codes[code] = id
	return nil
}

func (s *storage) DeleteAuthRequest(_ context.Context, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.authReqs, id)
	for code, reqID := range s.codes {
		if reqID == id {
			delete(s.codes, code)
		}
	}
	return nil
}

// completeLogin marks an auth request as signed in by user.
func (s *storage) completeLogin(id string, u *User) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.authReqs[id]
	if !ok {
		return fmt.Errorf("this sign-in request is unknown or expired: start again from the application")
	}
	a.subject = u.Subject
	a.done = true
	a.authTime = time.Now()
	return nil
}

// gcLocked drops flows that can no longer complete.
func (s *storage) gcLocked() {
	now := time.Now()
	for id, a := range s.authReqs {
		if now.Sub(a.created) > 10*time.Minute {
			delete(s.authReqs, id)
		}
	}
	for code, d := range s.devices {
		if now.After(d.expires.Add(time.Minute)) {
			delete(s.devices, code)
			delete(s.userCodes, d.userCode)
		}
	}
	for t, r := range s.refresh {
		if now.After(r.expires) {
			delete(s.refresh, t)
		}
	}
}

// --- tokens ---

func (s *storage) CreateAccessToken(_ context.Context, req op.TokenRequest) (string, time.Time, error) {
	id := randomString(16)
	s.mu.Lock()
	s.tokens[id] = req.GetSubject()
	s.mu.Unlock()
	return id, time.Now().Add(s.p.opts.AccessTokenLifetime), nil
}

func (s *storage) CreateAccessAndRefreshTokens(ctx context.Context, req op.TokenRequest, current string) (string, string, time.Time, error) {
	id, exp, err := s.CreateAccessToken(ctx, req)
	if err != nil {
		return "", "", time.Time{}, err
	}
	rt := &refreshToken{
		token:    randomString(32),
		subject:  req.GetSubject(),
		audience: req.GetAudience(),
		scopes:   req.GetScopes(),
		authTime: time.Now(),
		expires:  time.Now().Add(s.p.opts.RefreshTokenLifetime),
	}
	switch r := req.(type) {
	case *authRequest:
		rt.clientID, rt.authTime = r.clientID, r.authTime
	case *op.DeviceAuthorizationState:
		rt.clientID, rt.authTime = r.ClientID, r.AuthTime
	case *refreshToken:
		rt.clientID, rt.authTime = r.clientID, r.authTime
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if current != "" {
		if _, ok := s.refresh[current]; !ok {
			return "", "", time.Time{}, op.ErrInvalidRefreshToken
		}
		delete(s.refresh, current) // rotation: a refresh token works once
	}
	s.refresh[rt.token] = rt
	return id, rt.token, exp, nil
}

func (s *storage) TokenRequestByRefreshToken(_ context.Context, token string) (op.RefreshTokenRequest, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rt, ok := s.refresh[token]
	if !ok || time.Now().After(rt.expires) {
		return nil, op.ErrInvalidRefreshToken
	}
	if _, ok := s.p.userBySubject(rt.subject); !ok {
		return nil, op.ErrInvalidRefreshToken // user removed
	}
	cp := *rt
	return &cp, nil
}

// revokeSubject drops every refresh token of a user.
func (s *storage) revokeSubject(sub string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for t, r := range s.refresh {
		if r.subject == sub {
			delete(s.refresh, t)
			n++
		}
	}
	return n
}

func (s *storage) TerminateSession(_ context.Context, userID, _ string) error {
	s.revokeSubject(userID)
	return nil
}

func (s *storage) RevokeToken(_ context.Context, tokenOrID, _, _ string) *oidc.Error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.refresh, tokenOrID)
	delete(s.tokens, tokenOrID)
	return nil
}

func (s *storage) GetRefreshTokenInfo(_ context.Context, _ string, token string) (string, string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rt, ok := s.refresh[token]
	if !ok {
		return "", "", op.ErrInvalidRefreshToken
	}
	return rt.subject, rt.token, nil
}

func (s *storage) SigningKey(context.Context) (op.SigningKey, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.keys[0], nil
}

func (s *storage) SignatureAlgorithms(context.Context) ([]jose.SignatureAlgorithm, error) {
	return []jose.SignatureAlgorithm{jose.RS256}, nil
}

func (s *storage) KeySet(context.Context) ([]op.Key, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]op.Key, 0, len(s.keys))
	for _, k := range s.keys {
		out = append(out, publicKey{k})
	}
	return out, nil
}

// --- clients and claims ---

func (s *storage) GetClientByClientID(_ context.Context, id string) (op.Client, error) {
	if id != s.p.opts.ClientID {
		return nil, fmt.Errorf("client %q %w", id, errNotFound)
	}
	return s.p.client, nil
}

func (s *storage) AuthorizeClientIDSecret(context.Context, string, string) error {
	return errors.New("this provider has only a public client: no client secrets")
}

func (s *storage) SetUserinfoFromScopes(context.Context, *oidc.UserInfo, string, string, []string) error {
	return nil
}

func (s *storage) SetUserinfoFromRequest(_ context.Context, ui *oidc.UserInfo, req op.IDTokenRequest, scopes []string) error {
	s.setUserinfo(ui, req.GetSubject(), scopes)
	return nil
}

func (s *storage) setUserinfo(ui *oidc.UserInfo, sub string, scopes []string) {
	u, ok := s.p.userBySubject(sub)
	if !ok {
		return
	}
	ui.Subject = u.Subject
	if slices.Contains(scopes, oidc.ScopeProfile) {
		ui.PreferredUsername = u.Username
		ui.Name = u.Name
	}
	if slices.Contains(scopes, oidc.ScopeEmail) && strings.Contains(u.Username, "@") {
		ui.Email = u.Username
		ui.EmailVerified = true
	}
}

func (s *storage) SetUserinfoFromToken(_ context.Context, ui *oidc.UserInfo, _, subject, _ string) error {
	s.setUserinfo(ui, subject, []string{oidc.ScopeProfile, oidc.ScopeEmail})
	return nil
}

func (s *storage) SetIntrospectionFromToken(_ context.Context, ir *oidc.IntrospectionResponse, _, subject, clientID string) error {
	ir.Active = true
	ir.Subject = subject
	ir.ClientID = clientID
	return nil
}

func (s *storage) GetPrivateClaimsFromScopes(_ context.Context, userID, _ string, scopes []string) (map[string]any, error) {
	return s.p.claimsFor(userID, scopes)
}

func (s *storage) GetPrivateClaimsFromRequest(_ context.Context, req op.TokenRequest, _ []string) (map[string]any, error) {
	return s.p.claimsFor(req.GetSubject(), req.GetScopes())
}

func (s *storage) GetKeyByIDAndClientID(context.Context, string, string) (*jose.JSONWebKey, error) {
	return nil, errors.New("JWT profile grants are not supported")
}

func (s *storage) ValidateJWTProfileScopes(_ context.Context, _ string, scopes []string) ([]string, error) {
	return scopes, nil
}

func (s *storage) Health(context.Context) error { return nil }

// --- device authorization (RFC 8628) ---

func (s *storage) StoreDeviceAuthorization(_ context.Context, clientID, deviceCode, userCode string, expires time.Time, scopes []string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.gcLocked()
	if _, dup := s.userCodes[userCode]; dup {
		return op.ErrDuplicateUserCode
	}
	kept := slices.DeleteFunc(slices.Clone(scopes), func(sc string) bool {
		switch sc {
		case oidc.ScopeOpenID, oidc.ScopeProfile, oidc.ScopeEmail, oidc.ScopeOfflineAccess:
			return false
		}
		return !s.p.client.IsScopeAllowed(sc)
	})
	s.devices[deviceCode] = &deviceAuth{clientID: clientID, deviceCode: deviceCode, userCode: userCode, scopes: kept, expires: expires}
	s.userCodes[userCode] = deviceCode
	return nil
}

func (s *storage) GetDeviceAuthorizatonState(_ context.Context, clientID, deviceCode string) (*op.DeviceAuthorizationState, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d, ok := s.devices[deviceCode]
	if !ok || d.clientID != clientID || d.consumed {
		return nil, fmt.Errorf("device code %w", errNotFound)
	}
	st := &op.DeviceAuthorizationState{
		ClientID: d.clientID,
		Audience: []string{s.p.opts.Audience},
		Scopes:   d.scopes,
		Expires:  d.expires,
		Done:     d.done,
		Denied:   d.denied,
	}
	if d.done {
		st.Subject, st.AMR, st.AuthTime = d.subject, []string{"user"}, d.authTime
		d.consumed = true // a device code yields tokens once
	}
	return st, nil
}

// decideDevice approves (u != nil) or denies a pending user code.
func (s *storage) decideDevice(userCode string, u *User) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	dc, ok := s.userCodes[normalizeUserCode(userCode)]
	if !ok {
		return ErrUnknownUserCode
	}
	d := s.devices[dc]
	if d == nil || time.Now().After(d.expires) || d.done || d.denied {
		return ErrUnknownUserCode
	}
	if u == nil {
		d.denied = true
		return nil
	}
	d.done, d.subject, d.authTime = true, u.Subject, time.Now()
	return nil
}

// pendingUserCodes lists codes waiting for approval (for the demo and tests).
func (s *storage) pendingUserCodes() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	now := time.Now()
	for uc, dc := range s.userCodes {
		if d := s.devices[dc]; d != nil && !d.done && !d.denied && now.Before(d.expires) {
			out = append(out, uc)
		}
	}
	slices.Sort(out)
	return out
}

// normalizeUserCode accepts "bcdf ghjk", "BCDFGHJK" and "BCDF-GHJK".
func normalizeUserCode(c string) string {
	c = strings.ToUpper(strings.NewReplacer(" ", "", "-", "").Replace(strings.TrimSpace(c)))
	if len(c) == 8 {
		return c[:4] + "-" + c[4:]
	}
	return c
}
