//go:build linux

package topo

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"golang.org/x/oauth2"
)

// Dev provider settings the servers are configured with (devidp defaults).
const (
	IdPPort     = 8444
	IdPClientID = "ghostwire-cli"
	IdPAudience = "ghostwire-server"
	IdPScope    = "vpn.connect"
	// Users of the dev provider: allowed, not allowed, admin.
	UserDemo  = "demo@example.com"
	UserGuest = "guest@example.com"
	UserAdmin = "admin@example.com"
)

// IdPURL is the dev provider's issuer.
func (t *Topology) IdPURL() string {
	return fmt.Sprintf("https://%s", net.JoinHostPort(t.IdPAddr.String(), fmt.Sprint(IdPPort)))
}

// StartIdP runs `ghostwire-server dev-idp` on the internet namespace, where the
// laptop and every node reach it, and waits until it serves discovery.
func (t *Topology) StartIdP(ctx context.Context) (*Proc, error) {
	p, err := t.Start(t.Inet, "dev-idp", nil, t.Bins.Server, "dev-idp",
		"--listen", net.JoinHostPort(t.IdPAddr.String(), fmt.Sprint(IdPPort)),
		"--i-know-this-is-insecure",
		"--tls-cert", t.IdPCert, "--tls-key", t.IdPKey,
		"--poll-interval", "1s")
	if err != nil {
		return nil, err
	}
	hc := t.Laptop.HTTPClient(t.CA.Pool, 2*time.Second)
	if err := WaitHTTP(ctx, hc, t.IdPURL()+"/.well-known/openid-configuration", p, 20*time.Second); err != nil {
		return p, fmt.Errorf("dev provider: %w", err)
	}
	return p, nil
}

// ServerOptions tune one ghostwire-server start.
type ServerOptions struct {
	// IdleTimeout and friends shorten the server's sweeps in tests (zero: the
	// server's default). The idle timeout must stay above ~150 s: a live peer
	// handshakes only every 120 s (WireGuard's rekey interval) plus up to one
	// keepalive interval, so a shorter one removes peers that are in use.
	IdleTimeout, RegistrationGrace, SweepInterval time.Duration
	// Extra flags appended last (they win).
	Extra []string
}

// ServerArgs are the flags ghostwire-server runs with for cluster c.
func (t *Topology) ServerArgs(c *Cluster, o ServerOptions) []string {
	args := []string{
		"--listen", net.JoinHostPort(c.NodePublic.String(), fmt.Sprint(c.APIPort)),
		"--ops-listen", net.JoinHostPort(c.NodePod.String(), "9090"),
		"--tls-cert", c.ServerCert, "--tls-key", c.ServerKey,
		"--server-name", "e2e-" + c.Name,
		"--issuer", t.IdPURL(),
		"--issuer-ca-file", t.CA.CertFile,
		"--audience", IdPAudience,
		"--client-id", IdPClientID,
		"--scopes", "openid,offline_access," + IdPScope,
		"--required-scope", IdPScope,
		"--allowed-roles", "VPN.User",
		"--admin-roles", "VPN.Admin",
		"--wg-mode", "userspace",
		// The UAPI socket lives in the shared /var/run/wireguard: a per-run name.
		"--interface", c.ServerInterface(t),
		"--listen-port", fmt.Sprint(c.WireGuardUDP),
		"--cidr", c.TunnelCIDR.String(),
		"--endpoint", net.JoinHostPort(c.NodePublic.String(), fmt.Sprint(c.WireGuardUDP)),
		"--routes", c.PodCIDR.String() + "," + c.ServiceCIDR.String(),
		// Short names in other namespaces (prometheus → monitoring) without a
		// Kubernetes API to watch namespaces.
		"--search-domains", "monitoring.svc." + c.Domain,
		// The ingress hostname overridden by coredns-custom resolves inside.
		"--match-domains", "internal.example.com",
		"--cluster-domain", c.Domain,
		"--address-rest", "1s",
		"--log-format", "text",
		"--log-level", "debug",
	}
	// Zero keeps the server's defaults (idle 10 min).
	for _, d := range []struct {
		flag string
		v    time.Duration
	}{{"--idle-timeout", o.IdleTimeout}, {"--registration-grace", o.RegistrationGrace}, {"--sweep-interval", o.SweepInterval}} {
		if d.v != 0 {
			args = append(args, d.flag, d.v.String())
		}
	}
	return append(args, o.Extra...)
}

// ServerInterface is the WireGuard interface name of c's server.
func (c *Cluster) ServerInterface(t *Topology) string {
	return fmt.Sprintf("gwe%ss%d", t.Suffix, c.Index+1)
}

// StartServer runs ghostwire-server on c's node and waits until its API
// answers /v1/config from the laptop. It trusts the test CA for the provider
// through --issuer-ca-file.
func (t *Topology) StartServer(ctx context.Context, c *Cluster, o ServerOptions) (*Proc, error) {
	p, err := t.Start(c.Node, "server-"+c.Name, nil, t.Bins.Server, t.ServerArgs(c, o)...)
	if err != nil {
		return nil, err
	}
	hc := t.Laptop.HTTPClient(t.CA.Pool, 2*time.Second)
	if err := WaitHTTP(ctx, hc, c.ServerURL()+"/v1/config", p, 30*time.Second); err != nil {
		return p, fmt.Errorf("server %s: %w", c.Name, err)
	}
	return p, nil
}

// WaitHTTP polls url until it answers 200, the process exits, or timeout.
func WaitHTTP(ctx context.Context, hc *http.Client, url string, p *Proc, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var last string
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		resp, err := hc.Do(req)
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			last = resp.Status
		} else {
			last = err.Error()
		}
		if p != nil {
			if done, err := p.Exited(); done {
				return fmt.Errorf("%s exited (%v) before %s answered; its log:\n%s", p.Name, err, url, p.Tail(4000))
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s did not answer 200 within %s: %s", url, timeout, last)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Approve approves a device-flow user code as user through the dev provider's
// POST /dev/approve, retrying while the code is not yet known.
func (t *Topology) Approve(ctx context.Context, userCode, user string) error {
	hc := t.Laptop.HTTPClient(t.CA.Pool, 5*time.Second)
	body, _ := json.Marshal(map[string]string{"user_code": userCode, "user": user})
	resp, err := hc.Post(t.IdPURL()+"/dev/approve", "application/json", bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("approve sign-in code %s: %w", userCode, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return fmt.Errorf("approve sign-in code %s as %s: %s: %s", userCode, user, resp.Status, bytes.TrimSpace(b))
	}
	return nil
}

// Token signs in as user with the device flow (from the laptop), approving the
// code through the provider, and returns the access token.
func (t *Topology) Token(ctx context.Context, user string) (string, error) {
	hc := t.Laptop.HTTPClient(t.CA.Pool, 10*time.Second)
	ctx = context.WithValue(ctx, oauth2.HTTPClient, hc)
	cfg := &oauth2.Config{
		ClientID: IdPClientID,
		Endpoint: oauth2.Endpoint{
			DeviceAuthURL: t.IdPURL() + "/device_authorization",
			TokenURL:      t.IdPURL() + "/oauth/token",
			AuthStyle:     oauth2.AuthStyleInParams,
		},
		Scopes: []string{"openid", "offline_access", IdPScope},
	}
	if ep, err := discover(ctx, hc, t.IdPURL()); err == nil {
		cfg.Endpoint.DeviceAuthURL, cfg.Endpoint.TokenURL = ep.DeviceAuthURL, ep.TokenURL
	}
	da, err := cfg.DeviceAuth(ctx)
	if err != nil {
		return "", fmt.Errorf("device authorization: %w", err)
	}
	if err := t.Approve(ctx, da.UserCode, user); err != nil {
		return "", err
	}
	tok, err := cfg.DeviceAccessToken(ctx, da)
	if err != nil {
		return "", fmt.Errorf("device token: %w", err)
	}
	return tok.AccessToken, nil
}

func discover(ctx context.Context, hc *http.Client, issuer string) (oauth2.Endpoint, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(issuer, "/")+"/.well-known/openid-configuration", nil)
	resp, err := hc.Do(req)
	if err != nil {
		return oauth2.Endpoint{}, err
	}
	defer resp.Body.Close()
	var d struct {
		Token  string `json:"token_endpoint"`
		Device string `json:"device_authorization_endpoint"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&d); err != nil {
		return oauth2.Endpoint{}, err
	}
	if _, err := url.Parse(d.Token); err != nil || d.Token == "" || d.Device == "" {
		return oauth2.Endpoint{}, fmt.Errorf("discovery lacks token or device endpoint")
	}
	return oauth2.Endpoint{TokenURL: d.Token, DeviceAuthURL: d.Device, AuthStyle: oauth2.AuthStyleInParams}, nil
}
