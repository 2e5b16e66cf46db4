package entratest

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

func randomString(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func guid() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// pairwise is Entra's sub: stable per user and app, unlike oid it differs
// between apps.
func (s *Server) pairwise(u *User) string {
	h := sha256.Sum256([]byte(s.APIAppID + "/" + u.ObjectID))
	return base64.RawURLEncoding.EncodeToString(h[:])
}

// AccessTokenClaims are the claims of a v2 access token for the API app, as
// Entra issues them, valid for the configured lifetime.
func (s *Server) AccessTokenClaims(username string) (map[string]any, error) {
	u, ok := s.users[lower(username)]
	if !ok {
		return nil, fmt.Errorf("entratest: no user %q", username)
	}
	now := time.Now()
	c := map[string]any{
		"aud": s.APIAppID, "iss": s.Issuer(), "iat": now.Unix(), "nbf": now.Unix(),
		"exp": now.Add(s.opts.AccessTokenLifetime).Unix(), "azp": s.ClientID, "azpacr": "0",
		"name": u.Name, "oid": u.ObjectID, "preferred_username": u.Username, "rh": "0.fake.",
		"scp": DefaultScope, "sub": s.pairwise(u), "tid": s.TenantID, "uti": randomString(16), "ver": "2.0",
	}
	if len(u.Roles) > 0 {
		c["roles"] = slices.Clone(u.Roles)
	}
	if u.Overage {
		c["_claim_names"] = map[string]string{"groups": "src1"}
		c["_claim_sources"] = map[string]any{"src1": map[string]string{
			"endpoint": "https://graph.microsoft.com/v1.0/users/" + u.ObjectID + "/getMemberObjects"}}
	} else if len(u.Groups) > 0 {
		c["groups"] = slices.Clone(u.Groups)
	}
	return c, nil
}

// AccessToken signs a v2 access token for a user.
func (s *Server) AccessToken(username string) (string, error) {
	c, err := s.AccessTokenClaims(username)
	if err != nil {
		return "", err
	}
	return s.Sign(c)
}

// GraphToken is a token for Microsoft Graph (aud 00000003-...), which a
// resource server must never accept.
func (s *Server) GraphToken(username string) (string, error) {
	c, err := s.AccessTokenClaims(username)
	if err != nil {
		return "", err
	}
	c["aud"] = GraphAppID
	c["scp"] = "User.Read"
	c["iss"] = "https://sts.windows.net/" + s.TenantID + "/"
	c["ver"] = "1.0"
	return s.Sign(c)
}

func (s *Server) idToken(u *User, nonce string) (string, error) {
	now := time.Now()
	c := map[string]any{
		"aud": s.ClientID, "iss": s.Issuer(), "iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(time.Hour).Unix(),
		"name": u.Name, "oid": u.ObjectID, "preferred_username": u.Username, "sub": s.pairwise(u),
		"tid": s.TenantID, "ver": "2.0",
	}
	if nonce != "" {
		c["nonce"] = nonce
	}
	return s.Sign(c)
}

// Sign signs any claims with the tenant's key (RS256, with its kid).
func (s *Server) Sign(claims map[string]any) (string, error) {
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: s.key, KeyID: s.kid}},
		(&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		return "", err
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	obj, err := signer.Sign(payload)
	if err != nil {
		return "", err
	}
	return obj.CompactSerialize()
}

// PublicKey is the tenant's signing key (also served in the JWKS).
func (s *Server) PublicKey() *rsa.PublicKey { return &s.key.PublicKey }

func (s *Server) jwks() jose.JSONWebKeySet {
	return jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &s.key.PublicKey, KeyID: s.kid, Algorithm: "RS256", Use: "sig"}}}
}

func clientInfo(u *User, tid string) string {
	b, _ := json.Marshal(map[string]string{"uid": u.ObjectID, "utid": tid})
	return base64.RawURLEncoding.EncodeToString(b)
}
