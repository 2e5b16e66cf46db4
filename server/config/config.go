// Package config holds every setting of ghostwire-server. Each one is a flag
// and, with the same meaning, an environment variable GHOSTWIRE_<FLAG> (for
// example --idle-timeout ↔ GHOSTWIRE_IDLE_TIMEOUT), so a Deployment can set
// everything through env. The deploy tests import this package to check that
// the manifests only use flags that exist; keep names stable.
package config

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/ghostwire/ghostwire/auth/verify"
	"github.com/ghostwire/ghostwire/server/api"
)

// EnvPrefix starts every environment variable the server reads.
const EnvPrefix = "GHOSTWIRE_"

// EnvName is the environment variable that sets flag name:
// "idle-timeout" → "GHOSTWIRE_IDLE_TIMEOUT".
func EnvName(flag string) string {
	return EnvPrefix + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}

// WireGuard device modes.
const (
	ModeAuto      = "auto"      // kernel wg0 when the kernel has WireGuard, else wireguard-go
	ModeKernel    = "kernel"    // kernel only; fail when it is missing
	ModeUserspace = "userspace" // embedded wireguard-go only
)

// Config is the server's whole configuration.
type Config struct {
	// HTTP API.
	Listen          string
	OpsListen       string
	TLSCert         string
	TLSKey          string
	InsecureHTTP    bool
	ServerName      string
	ShutdownTimeout time.Duration
	TrustedProxies  []string

	// Sign-in and token verification.
	EntraTenantID string
	EntraAPIAppID string
	Issuer        string
	Audience      string
	ClientID      string
	Scopes        []string
	RequiredScope string
	AllowedRoles  []string
	AllowedGroups []string
	AdminRoles    []string
	AdminGroups   []string
	AllowAnyUser  bool
	UserClaim     string
	RolesClaim    string
	GroupsClaim   string
	ScopeClaim    string
	IssuerCAFile  string
	// The issuer's signing keys: trusted at most IssuerKeysMaxAge, fetched
	// at most once per IssuerKeysRefetch.
	IssuerKeysMaxAge  time.Duration
	IssuerKeysRefetch time.Duration

	// WireGuard.
	Interface    string
	WGMode       string
	ListenPort   int
	CIDR         string
	MTU          int
	Keepalive    time.Duration
	Endpoint     string
	KubeService  string
	KubeNSSearch bool
	// Several replicas sharing peers through the Kubernetes API.
	KubeHA         bool
	Kubeconfig     string
	KubeNamespace  string
	ReplicaName    string
	ReplicaLease   time.Duration
	Masquerade     bool
	ManageFirewall bool

	// What clients are told to route and resolve.
	Routes        []string
	DNSServers    []string
	SearchDomains []string
	MatchDomains  []string
	ClusterDomain string
	ResolvConf    string

	// Peers.
	DeviceCap         int
	IdleTimeout       time.Duration
	RegistrationGrace time.Duration
	MaxLifetime       time.Duration
	SweepInterval     time.Duration
	AddressRest       time.Duration
	RegisterRate      float64
	RegisterBurst     int
	// DenyUsersFile lists users refused whatever their token says (see
	// server/denylist); empty disables the deny list.
	DenyUsersFile string

	LogLevel  string
	LogFormat string
}

// Default returns the configuration used when nothing is set.
func Default() Config {
	return Config{
		Listen:            ":8443",
		OpsListen:         ":9090",
		ServerName:        "ghostwire",
		ShutdownTimeout:   15 * time.Second,
		Interface:         "wg0",
		WGMode:            ModeAuto,
		ListenPort:        51820,
		CIDR:              "100.64.0.0/16",
		MTU:               1420,
		Keepalive:         25 * time.Second,
		Masquerade:        true,
		ManageFirewall:    true,
		ClusterDomain:     "cluster.local",
		ResolvConf:        "/etc/resolv.conf",
		DeviceCap:         5,
		IdleTimeout:       10 * time.Minute,
		RegistrationGrace: 2 * time.Minute,
		MaxLifetime:       12 * time.Hour,
		SweepInterval:     30 * time.Second,
		ReplicaLease:      15 * time.Second,
		AddressRest:       10 * time.Minute,
		RegisterRate:      20,
		RegisterBurst:     10,
		IssuerKeysMaxAge:  verify.DefaultKeysMaxAge,
		IssuerKeysRefetch: verify.DefaultKeysRefetchInterval,
		RolesClaim:        "roles",
		GroupsClaim:       "groups",
		LogLevel:          "info",
		LogFormat:         "json",
	}
}

// Flags returns the flag set bound to c (which should hold Default() values).
// Every flag's usage names its environment variable.
func (c *Config) Flags() *pflag.FlagSet {
	fs := pflag.NewFlagSet("ghostwire-server", pflag.ContinueOnError)
	fs.SortFlags = false
	s := fs.StringVar
	d := fs.DurationVar
	sl := fs.StringSliceVar

	s(&c.Listen, "listen", c.Listen, "address of the HTTPS API (/v1, /healthz, /readyz)")
	s(&c.OpsListen, "ops-listen", c.OpsListen, "plain-HTTP address for /metrics, /healthz and /readyz (probes, Prometheus); empty disables it")
	s(&c.TLSCert, "tls-cert", c.TLSCert, "PEM certificate file for the API (reloaded when it changes, e.g. by cert-manager)")
	s(&c.TLSKey, "tls-key", c.TLSKey, "PEM private key file for --tls-cert (reloaded when it changes)")
	fs.BoolVar(&c.InsecureHTTP, "insecure-http", c.InsecureHTTP, "serve the API over plain HTTP: tokens travel in clear text; local development and tests only")
	s(&c.ServerName, "server-name", c.ServerName, "name shown to users (GET /v1/config)")
	d(&c.ShutdownTimeout, "shutdown-timeout", c.ShutdownTimeout, "how long to let requests finish on SIGTERM")
	sl(&c.TrustedProxies, "trusted-proxies", c.TrustedProxies, "CIDRs of the Ingress controllers whose X-Forwarded-For gives the client address in audit lines")

	s(&c.EntraTenantID, "entra-tenant-id", c.EntraTenantID, "Entra ID tenant (GUID); with --entra-api-app-id this configures Entra sign-in completely")
	s(&c.EntraAPIAppID, "entra-api-app-id", c.EntraAPIAppID, "application (client) ID of the VPN's API app registration in Entra ID")
	s(&c.Issuer, "issuer", c.Issuer, "OpenID issuer URL for any provider (exact 'iss'); for Entra it is derived from the tenant")
	s(&c.Audience, "audience", c.Audience, "required token audience ('aud'); for Entra defaults to the API app ID")
	s(&c.ClientID, "client-id", c.ClientID, "public client ID laptops sign in as (GET /v1/config); for Entra defaults to the API app ID")
	sl(&c.Scopes, "scopes", c.Scopes, "scopes clients request (comma-separated); for Entra defaults to api://<api-app-id>/vpn.connect")
	s(&c.RequiredScope, "required-scope", c.RequiredScope, "scope every token must carry in 'scp'; for Entra defaults to vpn.connect")
	sl(&c.AllowedRoles, "allowed-roles", c.AllowedRoles, "app roles allowed to connect (any one suffices); Entra default VPN.User")
	sl(&c.AllowedGroups, "allowed-groups", c.AllowedGroups, "group object IDs allowed to connect (any one suffices); prefer app roles")
	fs.BoolVar(&c.AllowAnyUser, "allow-any-user", c.AllowAnyUser, "let every user with a valid token connect (only when the provider itself restricts who gets a token)")
	sl(&c.AdminRoles, "admin-roles", c.AdminRoles, "app roles that may list and remove every peer (GET and DELETE /v1/peers); Entra default VPN.Admin")
	sl(&c.AdminGroups, "admin-groups", c.AdminGroups, "group object IDs that may list and remove every peer")
	s(&c.UserClaim, "user-claim", c.UserClaim, "claim shown as the user's name in logs (display only, never used to decide); empty tries preferred_username, upn, email, name")
	s(&c.RolesClaim, "roles-claim", c.RolesClaim, "claim holding app roles")
	s(&c.GroupsClaim, "groups-claim", c.GroupsClaim, "claim holding group object IDs")
	s(&c.ScopeClaim, "scope-claim", c.ScopeClaim, "claim holding the token's scopes (default scp, then scope)")
	s(&c.IssuerCAFile, "issuer-ca-file", c.IssuerCAFile, "extra PEM CA bundle to trust when fetching the issuer's discovery and keys (private CA); never disables verification")
	d(&c.IssuerKeysMaxAge, "issuer-keys-max-age", c.IssuerKeysMaxAge, "longest the issuer's signing keys (JWKS) are trusted before they are fetched again: a key the issuer withdraws is refused within this time (the issuer's Cache-Control can shorten it)")
	d(&c.IssuerKeysRefetch, "issuer-keys-refetch-interval", c.IssuerKeysRefetch, "least time between two fetches of the issuer's JWKS, whatever tokens arrive (protects the issuer from forged tokens with unknown key ids)")

	s(&c.Interface, "interface", c.Interface, "WireGuard interface name (≤ 15 characters)")
	s(&c.WGMode, "wg-mode", c.WGMode, "WireGuard device: auto (kernel wg0, else embedded wireguard-go), kernel or userspace")
	fs.IntVar(&c.ListenPort, "listen-port", c.ListenPort, "WireGuard UDP port")
	s(&c.CIDR, "cidr", c.CIDR, "address pool for clients; the first address is the server's tunnel address")
	fs.IntVar(&c.MTU, "mtu", c.MTU, "tunnel MTU (server device and pushed to clients)")
	d(&c.Keepalive, "keepalive", c.Keepalive, "persistent keepalive clients should use (0 disables)")
	s(&c.Endpoint, "endpoint", c.Endpoint, "public WireGuard endpoint host:port given to clients (no Kubernetes needed)")
	s(&c.KubeService, "kube-service", c.KubeService, "namespace/name of the LoadBalancer Service whose address is the endpoint (instead of --endpoint)")
	fs.BoolVar(&c.KubeNSSearch, "kube-namespace-search", c.KubeNSSearch, "add <namespace>.svc.<cluster-domain> for every namespace to the search domains (needs list/watch on namespaces)")
	fs.BoolVar(&c.KubeHA, "kube-ha", c.KubeHA, "run as one of several replicas: peers are shared records in the Kubernetes API (ghostwire.io CRDs, deploy/components/ha), every replica carries every peer, clients fail over between them")
	s(&c.Kubeconfig, "kubeconfig", c.Kubeconfig, "kubeconfig file for the Kubernetes API; empty: the pod's service account (in-cluster)")
	s(&c.KubeNamespace, "kube-namespace", c.KubeNamespace, "namespace of the shared records with --kube-ha; empty: the pod's own namespace")
	s(&c.ReplicaName, "replica-name", c.ReplicaName, "this replica's name with --kube-ha (a DNS label); empty: the host name, which is the pod's name")
	d(&c.ReplicaLease, "replica-lease", c.ReplicaLease, "with --kube-ha, a replica whose record is not renewed for this long counts as gone (it renews every third)")
	fs.BoolVar(&c.Masquerade, "masquerade", c.Masquerade, "masquerade client traffic leaving the pod (cluster sees the pod's address)")
	fs.BoolVar(&c.ManageFirewall, "manage-firewall", c.ManageFirewall, "install the nftables forward (and masquerade) rules; off when the platform does it")

	sl(&c.Routes, "routes", c.Routes, "CIDRs clients route into the tunnel: pod, service, VNet ranges (comma-separated)")
	sl(&c.DNSServers, "dns-servers", c.DNSServers, "DNS servers for clients; default: nameservers of --resolv-conf (the cluster's CoreDNS)")
	sl(&c.SearchDomains, "search-domains", c.SearchDomains, "extra search domains for clients (short names), added to those of --resolv-conf")
	sl(&c.MatchDomains, "match-domains", c.MatchDomains, "extra domains resolved by the cluster DNS, added to the cluster domain and search domains")
	s(&c.ClusterDomain, "cluster-domain", c.ClusterDomain, "Kubernetes cluster domain")
	s(&c.ResolvConf, "resolv-conf", c.ResolvConf, "resolv.conf to read nameservers and search domains from")

	fs.IntVar(&c.DeviceCap, "device-cap", c.DeviceCap, "maximum devices (peers) per user")
	d(&c.IdleTimeout, "idle-timeout", c.IdleTimeout, "remove a peer after this long without a WireGuard handshake")
	d(&c.RegistrationGrace, "registration-grace", c.RegistrationGrace, "remove a newly registered peer that has made no handshake after this long")
	d(&c.MaxLifetime, "max-lifetime", c.MaxLifetime, "remove every peer this long after it registered (clients re-register before)")
	d(&c.SweepInterval, "sweep-interval", c.SweepInterval, "how often idle and expired peers are looked for")
	d(&c.AddressRest, "address-rest", c.AddressRest, "how long a released address rests before it is given to someone else")
	fs.Float64Var(&c.RegisterRate, "register-rate", c.RegisterRate, "new devices one user may register per minute (re-registrations and key rotations are free); 0 disables the limit")
	fs.IntVar(&c.RegisterBurst, "register-burst", c.RegisterBurst, "new devices one user may register at once before --register-rate applies")

	s(&c.DenyUsersFile, "deny-users-file", c.DenyUsersFile, "file of users refused at once whatever their token says, one a line (subject, sub or Entra oid; '#' comments); reloaded when it changes, and their peers are removed; a missing file denies nobody")

	s(&c.LogLevel, "log-level", c.LogLevel, "debug, info, warn or error")
	s(&c.LogFormat, "log-format", c.LogFormat, "json or text")

	fs.VisitAll(func(f *pflag.Flag) {
		f.Usage += " [env " + EnvName(f.Name) + "]"
	})
	return fs
}

// ApplyEnv sets every flag not given on the command line from its
// environment variable, read through lookup (os.LookupEnv when nil).
func ApplyEnv(fs *pflag.FlagSet, lookup func(string) (string, bool)) error {
	if lookup == nil {
		lookup = os.LookupEnv
	}
	var errs []error
	fs.VisitAll(func(f *pflag.Flag) {
		if f.Changed {
			return
		}
		v, ok := lookup(EnvName(f.Name))
		if !ok {
			return
		}
		if err := fs.Set(f.Name, v); err != nil {
			errs = append(errs, fmt.Errorf("environment variable %s=%q is not a valid value for --%s: %v", EnvName(f.Name), v, f.Name, err))
		}
	})
	return errors.Join(errs...)
}

// Provider is api.ProviderEntra when Entra is configured, else api.ProviderOIDC.
func (c *Config) Provider() string {
	if c.EntraTenantID != "" || c.EntraAPIAppID != "" {
		return api.ProviderEntra
	}
	return api.ProviderOIDC
}

// Validate checks the whole configuration and says what to change.
// MinIdleTimeout is the shortest idle timeout that never removes a live peer:
// WireGuard re-handshakes after RekeyAfterTime (120 s), which a peer sending only
// keepalives (25 s) reaches up to a keepalive later, plus RekeyTimeout (5 s).
const MinIdleTimeout = 150 * time.Second

func (c *Config) Validate() error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }

	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		bad("--listen %q is not host:port (e.g. :8443): %v", c.Listen, err)
	}
	if c.OpsListen != "" {
		if _, _, err := net.SplitHostPort(c.OpsListen); err != nil {
			bad("--ops-listen %q is not host:port (e.g. :9090): %v", c.OpsListen, err)
		}
	}
	if c.InsecureHTTP && (c.TLSCert != "" || c.TLSKey != "") {
		bad("--insecure-http and --tls-cert/--tls-key contradict each other: drop one")
	}
	if !c.InsecureHTTP && (c.TLSCert == "" || c.TLSKey == "") {
		bad("HTTPS needs --tls-cert and --tls-key (PEM files, e.g. from cert-manager); for local development only, use --insecure-http")
	}

	switch c.Provider() {
	case api.ProviderEntra:
		if !isGUID(c.EntraTenantID) {
			bad("--entra-tenant-id %q is not a tenant GUID (Entra admin center → Overview → Tenant ID)", c.EntraTenantID)
		}
		if !isGUID(c.EntraAPIAppID) {
			bad("--entra-api-app-id %q is not an application GUID (App registrations → your VPN API → Application (client) ID)", c.EntraAPIAppID)
		}
	default:
		if c.Issuer == "" {
			bad("no sign-in provider: set --entra-tenant-id and --entra-api-app-id for Entra ID, or --issuer, --audience and --client-id for another OpenID provider")
		} else {
			if u, err := url.Parse(c.Issuer); err != nil || u.Scheme != "https" && !(u.Scheme == "http" && isLoopbackHost(u.Hostname())) || u.Host == "" {
				bad("--issuer %q must be an https:// URL (plain http only on loopback for development)", c.Issuer)
			}
			if c.Audience == "" {
				bad("--audience is required with --issuer: the 'aud' your provider puts in access tokens for this VPN")
			}
			if c.ClientID == "" {
				bad("--client-id is required with --issuer: the public client laptops sign in as")
			}
		}
	}
	if c.Provider() == api.ProviderOIDC && len(c.AllowedRoles) == 0 && len(c.AllowedGroups) == 0 && !c.AllowAnyUser {
		bad("nobody could connect: set --allowed-roles (app roles, preferred) or --allowed-groups (group object IDs), or --allow-any-user")
	}
	if c.IssuerKeysRefetch < time.Second || c.IssuerKeysMaxAge < c.IssuerKeysRefetch || c.IssuerKeysMaxAge > 24*time.Hour {
		bad("--issuer-keys-refetch-interval (%s) must be at least 1s and at most --issuer-keys-max-age (%s), itself at most 24h", c.IssuerKeysRefetch, c.IssuerKeysMaxAge)
	}
	if c.IssuerCAFile != "" {
		if _, err := os.Stat(c.IssuerCAFile); err != nil {
			bad("--issuer-ca-file: %v", err)
		}
	}

	if c.Interface == "" || len(c.Interface) > 15 || strings.ContainsAny(c.Interface, "/ \t\n") {
		bad("--interface %q must be 1–15 characters without '/' or spaces", c.Interface)
	}
	switch c.WGMode {
	case ModeAuto, ModeKernel, ModeUserspace:
	default:
		bad("--wg-mode %q must be auto, kernel or userspace", c.WGMode)
	}
	if c.ListenPort < 1 || c.ListenPort > 65535 {
		bad("--listen-port %d must be 1–65535", c.ListenPort)
	}
	if p, err := netip.ParsePrefix(c.CIDR); err != nil {
		bad("--cidr %q is not a CIDR (e.g. 100.64.0.0/16): %v", c.CIDR, err)
	} else if p.Masked() != p {
		bad("--cidr %q has host bits set; did you mean %s?", c.CIDR, p.Masked())
	} else if bits := p.Addr().BitLen() - p.Bits(); bits < 2 {
		bad("--cidr %q is too small: it needs room for the server and at least one client", c.CIDR)
	}
	if c.MTU < 1280 || c.MTU > 9000 {
		bad("--mtu %d must be 1280–9000", c.MTU)
	}
	if c.Keepalive < 0 || c.Keepalive > time.Hour {
		bad("--keepalive %s must be between 0 and 1h", c.Keepalive)
	}
	switch {
	case c.Endpoint != "" && c.KubeService != "":
		bad("set either --endpoint or --kube-service, not both")
	case c.Endpoint != "":
		if h, p, err := net.SplitHostPort(c.Endpoint); err != nil || h == "" {
			bad("--endpoint %q must be host:port, the address clients reach UDP %d at", c.Endpoint, c.ListenPort)
		} else if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			bad("--endpoint %q has an invalid port", c.Endpoint)
		}
	case c.KubeService != "":
		if ns, name, ok := strings.Cut(c.KubeService, "/"); !ok || ns == "" || name == "" || strings.Contains(name, "/") {
			bad("--kube-service %q must be namespace/name", c.KubeService)
		}
		if strings.Contains(c.KubeService, OrdinalPlaceholder) {
			if _, err := c.ReplicaOrdinal(); err != nil {
				bad("--kube-service %q: %v", c.KubeService, err)
			}
		}
	default:
		bad("clients need an endpoint: set --endpoint host:port, or --kube-service namespace/name to use a LoadBalancer Service's address")
	}
	for _, r := range c.Routes {
		if p, err := netip.ParsePrefix(r); err != nil || p.Masked() != p {
			bad("--routes entry %q is not a CIDR without host bits (e.g. 10.244.0.0/16)", r)
		}
	}
	for _, p := range c.TrustedProxies {
		if _, err := netip.ParsePrefix(p); err != nil {
			bad("--trusted-proxies entry %q is not a CIDR (e.g. 10.244.0.0/16)", p)
		}
	}
	for _, s := range c.DNSServers {
		if _, err := netip.ParseAddr(s); err != nil {
			bad("--dns-servers entry %q is not an IP address", s)
		}
	}
	for _, d := range append(append([]string{c.ClusterDomain}, c.SearchDomains...), c.MatchDomains...) {
		if !isDomain(d) {
			bad("domain %q is not a valid DNS name", d)
		}
	}
	if c.DeviceCap < 1 {
		bad("--device-cap %d must be at least 1", c.DeviceCap)
	}
	for _, x := range []struct {
		name string
		v    time.Duration
	}{{"idle-timeout", c.IdleTimeout}, {"registration-grace", c.RegistrationGrace}, {"max-lifetime", c.MaxLifetime}, {"sweep-interval", c.SweepInterval}, {"shutdown-timeout", c.ShutdownTimeout}} {
		if x.v <= 0 {
			bad("--%s %s must be positive", x.name, x.v)
		}
	}
	if c.RegisterRate < 0 {
		bad("--register-rate %g must not be negative (0 disables the limit)", c.RegisterRate)
	}
	if c.RegisterBurst < 1 {
		bad("--register-burst %d must be at least 1", c.RegisterBurst)
	}
	if c.AddressRest < 0 {
		bad("--address-rest %s must not be negative", c.AddressRest)
	}
	if c.IdleTimeout > 0 && c.IdleTimeout < MinIdleTimeout {
		bad("--idle-timeout %s is shorter than WireGuard's re-handshake interval (a live peer handshakes only every 2 min plus keepalive): peers in use would be removed; use at least %s", c.IdleTimeout, MinIdleTimeout)
	}
	if c.SweepInterval > 0 && c.IdleTimeout > 0 && c.SweepInterval > c.IdleTimeout {
		bad("--sweep-interval %s is longer than --idle-timeout %s: idle peers would linger", c.SweepInterval, c.IdleTimeout)
	}
	if c.KubeHA {
		if _, err := c.Replica(); err != nil {
			bad("%v", err)
		}
		if c.ReplicaLease < 3*time.Second || c.ReplicaLease > time.Hour {
			bad("--replica-lease %s must be between 3s and 1h", c.ReplicaLease)
		}
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		bad("--log-level %q must be debug, info, warn or error", c.LogLevel)
	}
	switch c.LogFormat {
	case "json", "text":
	default:
		bad("--log-format %q must be json or text", c.LogFormat)
	}
	return errors.Join(errs...)
}

func isGUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i, r := range s {
		switch i {
		case 8, 13, 18, 23:
			if r != '-' {
				return false
			}
		default:
			if !strings.ContainsRune("0123456789abcdefABCDEF", r) {
				return false
			}
		}
	}
	return true
}

func isDomain(d string) bool {
	d = strings.TrimSuffix(d, ".")
	if d == "" || len(d) > 253 {
		return false
	}
	for _, l := range strings.Split(d, ".") {
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		for _, r := range l {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
				return false
			}
		}
	}
	return true
}

func isLoopbackHost(h string) bool {
	if h == "localhost" {
		return true
	}
	a, err := netip.ParseAddr(h)
	return err == nil && a.IsLoopback()
}
