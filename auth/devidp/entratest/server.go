// Package entratest is an Entra ID (Azure AD) look-alike for tests, because
// Entra itself cannot run here. It is a fake and says so: it issues v2 access
// tokens shaped like Entra's (iss https://login.microsoftonline.com/<tid>/v2.0,
// aud = the API app id, tid, oid, scp, roles, groups, group overage with
// _claim_names/_claim_sources) and serves the endpoints MSAL for Go calls:
// {authority}/v2.0/.well-known/openid-configuration, the v2 JWKS,
// oauth2/v2.0/devicecode, oauth2/v2.0/token (grant_type=device_code as MSAL
// sends it, the RFC 8628 URN, refresh_token and authorization_code with PKCE)
// and oauth2/v2.0/authorize (form_post or query response, signing in a user
// without any page).
//
// Its TLS certificate names login.microsoftonline.com, and HTTPClient dials
// the fake whatever host is asked for, so production code using the real
// authority URL runs unchanged against it and nothing leaves the machine.
package entratest

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ghostwire/ghostwire/server/api"
)

// Host is the Entra host the fake stands in for.
const Host = "login.microsoftonline.com"

// GraphAppID is Microsoft Graph's app id, the aud of Graph tokens.
const GraphAppID = "00000003-0000-0000-c000-000000000000"

// User is an account of the fake tenant.
type User struct {
	Username string // preferred_username
	ObjectID string // oid; derived when empty
	Name     string
	Roles    []string // app roles of the API app
	Groups   []string // group object IDs
	// Overage makes the token carry _claim_names/_claim_sources instead of
	// groups, as Entra does past 200 groups.
	Overage bool
}

// Default users.
const (
	UserDemo     = "demo@contoso.example"    // VPN.User
	UserOutsider = "guest@contoso.example"   // no role, no group
	UserAdmin    = "admin@contoso.example"   // VPN.User, VPN.Admin
	UserOverage  = "overage@contoso.example" // group overage, no role
	GroupVPN     = "9a6f3c2e-8d41-4b7a-a1c5-0e2f4d6b8a10"
	RoleUser     = "VPN.User"
	RoleAdmin    = "VPN.Admin"
	DefaultScope = "vpn.connect"
)

// Options configure the fake. Zero values take defaults.
type Options struct {
	TenantID string
	APIAppID string // the API app registration (aud of access tokens)
	ClientID string // the public client app registration
	Users    []User
	// AccessTokenLifetime (default 1h). MSAL refreshes silently when less than
	// 5 minutes are left, so a lifetime under 5 minutes makes every silent
	// call a refresh.
	AccessTokenLifetime time.Duration
	// InteractiveUser signs in on the authorize endpoint when the request has
	// no login_hint naming a user (default UserDemo).
	InteractiveUser string
}

// Server is a running fake tenant.
type Server struct {
	Server   *httptest.Server
	TenantID string
	APIAppID string
	ClientID string
	// CAPool trusts the fake's certificate.
	CAPool *x509.CertPool

	opts  Options
	key   *rsa.PrivateKey
	kid   string
	users map[string]*User

	mu      sync.Mutex
	devices map[string]*device // by device code
	codes   map[string]*authCode
	refresh map[string]string // refresh token -> username
	grants  map[string]int
}

// New starts the fake over TLS for the test's lifetime.
func New(t testing.TB, opts Options) *Server {
	t.Helper()
	def := func(s *string, v string) {
		if *s == "" {
			*s = v
		}
	}
	def(&opts.TenantID, "72f988bf-0000-4000-8000-00000000c0de")
	def(&opts.APIAppID, "6e1f2a3b-4c5d-4e6f-8a9b-0c1d2e3f4a5b")
	def(&opts.ClientID, "0f9e8d7c-6b5a-4948-8372-615a4b3c2d1e")
	def(&opts.InteractiveUser, UserDemo)
	if opts.AccessTokenLifetime <= 0 {
		opts.AccessTokenLifetime = time.Hour
	}
	if opts.Users == nil {
		opts.Users = []User{
			{Username: UserDemo, Name: "Demo", Roles: []string{RoleUser}, Groups: []string{GroupVPN}},
			{Username: UserOutsider, Name: "Guest"},
			{Username: UserAdmin, Name: "Admin", Roles: []string{RoleUser, RoleAdmin}, Groups: []string{GroupVPN}},
			{Username: UserOverage, Name: "Member Of Too Many Groups", Overage: true},
		}
	}
	s := &Server{
		TenantID: opts.TenantID, APIAppID: opts.APIAppID, ClientID: opts.ClientID, opts: opts,
		users: map[string]*User{}, devices: map[string]*device{}, codes: map[string]*authCode{}, refresh: map[string]string{}, grants: map[string]int{},
	}
	for i := range opts.Users {
		u := opts.Users[i]
		if u.ObjectID == "" {
			u.ObjectID = guid()
		}
		s.users[strings.ToLower(u.Username)] = &u
	}
	var err error
	if s.key, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
		t.Fatal(err)
	}
	s.kid = randomString(6)
	cert, pool, err := selfSigned()
	if err != nil {
		t.Fatal(err)
	}
	s.CAPool = pool
	s.Server = httptest.NewUnstartedServer(s.routes())
	s.Server.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	s.Server.StartTLS()
	t.Cleanup(s.Server.Close)
	return s
}

// Issuer is the v2 issuer: https://login.microsoftonline.com/<tid>/v2.0.
func (s *Server) Issuer() string { return "https://" + Host + "/" + s.TenantID + "/v2.0" }

// Authority is what MSAL is given: https://login.microsoftonline.com/<tid>.
func (s *Server) Authority() string { return "https://" + Host + "/" + s.TenantID }

// Scope is the API scope to request: api://<api app id>/vpn.connect.
func (s *Server) Scope() string { return "api://" + s.APIAppID + "/" + DefaultScope }

// APIConfig is what a ghostwire-server configured for this tenant publishes.
func (s *Server) APIConfig() api.Config {
	return api.Config{ServerName: "entra-fake", Provider: api.ProviderEntra, Issuer: s.Issuer(),
		TenantID: s.TenantID, ClientID: s.ClientID, Scopes: []string{s.Scope()}}
}

// HTTPClient trusts the fake's CA and connects to the fake whatever host a
// request names (login.microsoftonline.com included), so nothing leaves the
// machine.
func (s *Server) HTTPClient() *http.Client {
	addr := s.Server.Listener.Addr().String()
	d := &net.Dialer{Timeout: 5 * time.Second}
	return &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return d.DialContext(ctx, network, addr)
		},
		TLSClientConfig: &tls.Config{RootCAs: s.CAPool},
	}}
}

// User returns a user of the tenant.
func (s *Server) User(name string) (User, bool) {
	u, ok := s.users[strings.ToLower(name)]
	if !ok {
		return User{}, false
	}
	return *u, true
}

// selfSigned makes a CA and a leaf for Host, 127.0.0.1 and localhost.
func selfSigned() (tls.Certificate, *x509.CertPool, error) {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "entratest fake CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	ca, _ := x509.ParseCertificate(caDER)
	leafKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	leafTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: Host},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		DNSNames: []string{Host, "localhost"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leafTmpl, ca, &leafKey.PublicKey, caKey)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	return tls.Certificate{Certificate: [][]byte{leafDER}, PrivateKey: leafKey}, pool, nil
}
