package config

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"
	"os"
	"time"

	"github.com/ghostwire/ghostwire/auth/verify"
	"github.com/ghostwire/ghostwire/server/api"
)

// EntraScopeURI is the scope an Entra client requests for the VPN's API.
func EntraScopeURI(apiAppID string) string { return "api://" + apiAppID + "/" + verify.EntraScope }

// APIConfig is the answer to GET /v1/config.
func (c *Config) APIConfig(version string) api.Config {
	out := api.Config{ServerName: c.ServerName, Provider: c.Provider(), Issuer: c.Issuer, ClientID: c.ClientID, Scopes: c.Scopes, Version: version}
	if out.Provider == api.ProviderEntra {
		out.TenantID = c.EntraTenantID
		if out.Issuer == "" {
			out.Issuer = verify.EntraConfig(c.EntraTenantID, c.EntraAPIAppID).Issuer
		}
		if out.ClientID == "" {
			out.ClientID = c.EntraAPIAppID
		}
		if len(out.Scopes) == 0 {
			out.Scopes = []string{EntraScopeURI(c.EntraAPIAppID)}
		}
	} else if len(out.Scopes) == 0 {
		out.Scopes = []string{"openid", "profile", "offline_access"}
		if c.RequiredScope != "" {
			out.Scopes = append(out.Scopes, c.RequiredScope)
		}
	}
	return out
}

// VerifyConfig is the token verifier's configuration. Entra starts from
// verify.EntraConfig (v2 issuer, tid, scope vpn.connect, roles VPN.User and
// VPN.Admin); every flag that is set overrides it.
func (c *Config) VerifyConfig() (verify.Config, error) {
	var v verify.Config
	if c.Provider() == api.ProviderEntra {
		v = verify.EntraConfig(c.EntraTenantID, c.EntraAPIAppID)
	}
	set := func(dst *string, src string) {
		if src != "" {
			*dst = src
		}
	}
	setl := func(dst *[]string, src []string) {
		if len(src) > 0 {
			*dst = src
		}
	}
	set(&v.Issuer, c.Issuer)
	set(&v.Audience, c.Audience)
	set(&v.RequiredScope, c.RequiredScope)
	setl(&v.AllowedRoles, c.AllowedRoles)
	setl(&v.AllowedGroups, c.AllowedGroups)
	setl(&v.AdminRoles, c.AdminRoles)
	setl(&v.AdminGroups, c.AdminGroups)
	v.AllowAnyUser = c.AllowAnyUser
	set(&v.UserClaim, c.UserClaim)
	set(&v.RolesClaim, c.RolesClaim)
	set(&v.GroupsClaim, c.GroupsClaim)
	set(&v.ScopeClaim, c.ScopeClaim)
	v.KeysMaxAge, v.KeysRefetchInterval = c.IssuerKeysMaxAge, c.IssuerKeysRefetch
	if c.IssuerCAFile != "" {
		pem, err := os.ReadFile(c.IssuerCAFile)
		if err != nil {
			return v, fmt.Errorf("--issuer-ca-file: %w", err)
		}
		roots, err := x509.SystemCertPool()
		if err != nil || roots == nil {
			roots = x509.NewCertPool()
		}
		if !roots.AppendCertsFromPEM(pem) {
			return v, fmt.Errorf("--issuer-ca-file %s holds no PEM certificate", c.IssuerCAFile)
		}
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.TLSClientConfig = &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}
		v.HTTPClient = &http.Client{Timeout: 10 * time.Second, Transport: tr}
	}
	return v, nil
}
