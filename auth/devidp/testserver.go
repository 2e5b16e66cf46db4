package devidp

import (
	"crypto/x509"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/ghostwire/ghostwire/server/api"
)

// TestServer is a Provider served over httptest.NewTLSServer on 127.0.0.1.
type TestServer struct {
	*Provider
	Server *httptest.Server
	// CAPool trusts the server's certificate (for an HTTP client or the daemon).
	CAPool *x509.CertPool
}

// HTTPClient trusts the test server's certificate and nothing else.
func (ts *TestServer) HTTPClient() *http.Client { return ts.Server.Client() }

// NewTestServer starts a provider over TLS for the test's lifetime. opts.Issuer
// is set to the server's URL; the rest of opts is as in New.
func NewTestServer(t testing.TB, opts Options) *TestServer {
	t.Helper()
	var h http.Handler
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h.ServeHTTP(w, r) }))
	srv.StartTLS()
	t.Cleanup(srv.Close)
	opts.Issuer = srv.URL
	p, err := New(opts)
	if err != nil {
		t.Fatalf("devidp.NewTestServer: %v", err)
	}
	h = p.Handler()
	pool := x509.NewCertPool()
	pool.AddCert(srv.Certificate())
	return &TestServer{Provider: p, Server: srv, CAPool: pool}
}

// APIConfig is what a ghostwire-server fronting this provider publishes on
// GET /v1/config.
func (p *Provider) APIConfig(serverName string) api.Config {
	return api.Config{
		ServerName: serverName,
		Provider:   api.ProviderOIDC,
		Issuer:     p.Issuer(),
		ClientID:   p.ClientID(),
		Scopes:     p.Scopes(),
	}
}
