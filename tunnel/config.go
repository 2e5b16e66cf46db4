package tunnel

import (
	"context"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"regexp"
	"slices"
	"strings"
	"time"

	"golang.org/x/crypto/curve25519"
	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"
)

// Key is a WireGuard public key.
type Key = wgtypes.Key

// PrivateKey is a WireGuard private key. It prints, logs and marshals as
// "[redacted]" so that no log line or journal can carry it by accident.
// Convert from wgtypes.Key with tunnel.PrivateKey(k).
type PrivateKey [32]byte

func (PrivateKey) String() string               { return "[redacted]" }
func (PrivateKey) GoString() string             { return "tunnel.PrivateKey([redacted])" }
func (PrivateKey) LogValue() slog.Value         { return slog.StringValue("[redacted]") }
func (PrivateKey) MarshalText() ([]byte, error) { return []byte("[redacted]"), nil }
func (k PrivateKey) IsZero() bool               { return subtle.ConstantTimeCompare(k[:], make([]byte, 32)) == 1 }
func (k PrivateKey) equal(o PrivateKey) bool    { return subtle.ConstantTimeCompare(k[:], o[:]) == 1 }
func (k PrivateKey) hex() string                { return hex.EncodeToString(k[:]) }
func (k PrivateKey) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte("[redacted]")) }

// Public derives the public key.
func (k PrivateKey) Public() Key {
	var pub Key
	curve25519.ScalarBaseMult((*[32]byte)(&pub), (*[32]byte)(&k))
	return pub
}

// Peer is the tunnel's one peer: the ghostwire server.
type Peer struct {
	PublicKey Key
	// Endpoint is IP:port; resolve host names first (ResolveEndpoint).
	Endpoint netip.AddrPort
	// AllowedIPs are the ranges sent into the tunnel; each gets a route.
	AllowedIPs []netip.Prefix
	// Keepalive is the persistent keepalive interval (0: off; ghostwire uses 25 s).
	Keepalive time.Duration
}

// DNS is the split DNS the tunnel installs.
type DNS struct {
	// Servers answer the match domains (the cluster's CoreDNS).
	Servers []netip.Addr
	// Search domains make short names work (prometheus → prometheus.monitoring.svc.cluster.local).
	Search []string
	// Match domains are the domains sent to Servers. Search domains are matched too.
	Match []string
}

// DNSMode selects how DNS is configured.
type DNSMode string

const (
	DNSAuto       DNSMode = ""           // resolved when it runs, else the stub resolver behind resolv.conf
	DNSResolved   DNSMode = "resolved"   // systemd-resolved over D-Bus, real split DNS
	DNSStub       DNSMode = "stub"       // local forwarder on 127.0.0.x + managed resolv.conf, real split DNS
	DNSResolvConf DNSMode = "resolvconf" // managed resolv.conf only: ALL queries go to the cluster DNS
	DNSOff        DNSMode = "off"        // leave DNS alone
	DNSScutil     DNSMode = "scutil"     // macOS: our own SystemConfiguration dynamic-store keys, real split DNS
	DNSNRPT       DNSMode = "nrpt"       // Windows: NRPT rules + the adapter's search list, real split DNS
)

// DNSModes lists every mode by name, for flags and errors. Which of them a
// system offers is decided at Up (each OS file's autoDNSMode and applyOSDNS).
var DNSModes = []DNSMode{DNSResolved, DNSStub, DNSResolvConf, DNSScutil, DNSNRPT, DNSOff}

// Valid reports whether m names a mode (DNSAuto included).
func (m DNSMode) Valid() bool { return m == DNSAuto || slices.Contains(DNSModes, m) }

// Config is one tunnel. Interface, PrivateKey, Address and Peer are required.
type Config struct {
	// Interface is the TUN device name (≤ 15 characters on Linux).
	Interface  string
	PrivateKey PrivateKey
	// Address is the tunnel address with its prefix length (e.g. 100.64.0.7/32).
	Address netip.Prefix
	// MTU of the TUN device; 0 means 1420.
	MTU  int
	Peer Peer
	// Standby are further peers without routes: the server's other replicas,
	// which hold this client's key and address too. Each keeps a session
	// alive (its persistent keepalive), so that Activate can move the routes
	// to one of them in a single device update. Their AllowedIPs are empty.
	Standby []Peer
	DNS     DNS
	// JournalDir keeps the undo journal; "" means DefaultJournalDir.
	JournalDir string
	// AllowFullTunnel permits a route covering the whole internet (/0). Without
	// it such a config is refused.
	AllowFullTunnel bool

	// DNSMode chooses the DNS mechanism; the zero value picks at run time.
	DNSMode DNSMode
	// ResolvConf is the file managed in stub/resolvconf mode; "" means /etc/resolv.conf.
	ResolvConf string
	// DBusAddress is the bus where systemd-resolved is reached; "" means the system bus.
	DBusAddress string
	// StubAddress is where the stub resolver listens; zero means 127.0.0.153:53.
	StubAddress netip.AddrPort
}

const (
	DefaultMTU  = 1420
	maxIfaceLen = 15
)

var ifaceRe = regexp.MustCompile(`^[A-Za-z0-9_.-]+$`)

// ErrFullTunnel is returned when a route covers the whole internet and
// Config.AllowFullTunnel is false.
var ErrFullTunnel = errors.New("the server pushed a route for the whole internet")

func (c Config) withDefaults() Config {
	if c.MTU == 0 {
		c.MTU = DefaultMTU
	}
	if c.JournalDir == "" {
		c.JournalDir = DefaultJournalDir
	}
	if c.ResolvConf == "" {
		c.ResolvConf = "/etc/resolv.conf"
	}
	if !c.StubAddress.IsValid() {
		c.StubAddress = netip.MustParseAddrPort("127.0.0.153:53")
	}
	return c
}

// Validate reports the first problem with c, in words a user understands.
func (c Config) Validate() error {
	switch {
	case c.Interface == "":
		return errors.New("tunnel config: interface name is empty")
	case len(c.Interface) > maxIfaceLen:
		return fmt.Errorf("tunnel config: interface name %q is longer than %d characters", c.Interface, maxIfaceLen)
	case !ifaceRe.MatchString(c.Interface):
		return fmt.Errorf("tunnel config: interface name %q may only hold letters, digits, '.', '-' and '_'", c.Interface)
	case c.PrivateKey.IsZero():
		return errors.New("tunnel config: private key is missing")
	case !c.Address.IsValid():
		return errors.New("tunnel config: tunnel address is missing (the server's answer had none)")
	case c.Peer.PublicKey == Key{}:
		return errors.New("tunnel config: server public key is missing")
	case !c.Peer.Endpoint.IsValid() || c.Peer.Endpoint.Port() == 0:
		return errors.New("tunnel config: server endpoint must be IP:port (resolve host names with ResolveEndpoint)")
	case c.MTU != 0 && (c.MTU < 576 || c.MTU > 9000):
		return fmt.Errorf("tunnel config: MTU %d is outside 576..9000", c.MTU)
	case c.Peer.Keepalive < 0 || c.Peer.Keepalive > 65535*time.Second:
		return fmt.Errorf("tunnel config: keepalive %s is outside 0..65535s", c.Peer.Keepalive)
	case c.Peer.PublicKey == c.PrivateKey.Public():
		return errors.New("tunnel config: server public key equals our own public key")
	}
	seen := map[Key]bool{c.Peer.PublicKey: true}
	for _, sb := range c.Standby {
		switch {
		case sb.PublicKey == Key{} || seen[sb.PublicKey] || sb.PublicKey == c.PrivateKey.Public():
			return errors.New("tunnel config: a standby replica's public key is missing, repeated, or ours")
		case !sb.Endpoint.IsValid() || sb.Endpoint.Port() == 0:
			return errors.New("tunnel config: a standby replica's endpoint must be IP:port")
		case len(sb.AllowedIPs) > 0:
			return errors.New("tunnel config: a standby replica carries no routes (they belong to the active one)")
		case sb.Keepalive < 0 || sb.Keepalive > 65535*time.Second:
			return fmt.Errorf("tunnel config: keepalive %s is outside 0..65535s", sb.Keepalive)
		}
		seen[sb.PublicKey] = true
	}
	for _, p := range c.Peer.AllowedIPs {
		if !p.IsValid() {
			return errors.New("tunnel config: invalid route in the server's answer")
		}
		if p.Bits() == 0 && !c.AllowFullTunnel {
			return fmt.Errorf("%w (%s): ghostwire only sends the cluster's ranges through the tunnel; "+
				"ask the admin to push the cluster's ranges, or enable full tunnel explicitly", ErrFullTunnel, p)
		}
	}
	for _, s := range c.DNS.Servers {
		if !s.IsValid() {
			return errors.New("tunnel config: invalid DNS server in the server's answer")
		}
	}
	for _, d := range append(append([]string{}, c.DNS.Search...), c.DNS.Match...) {
		if err := validDomain(d); err != nil {
			return err
		}
	}
	if !c.DNSMode.Valid() {
		return fmt.Errorf("tunnel config: unknown DNS mode %q (use one of %v)", c.DNSMode, DNSModes)
	}
	return nil
}

var labelRe = regexp.MustCompile(`^[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?$`)

func validDomain(d string) error {
	d = strings.TrimSuffix(strings.TrimPrefix(d, "~"), ".")
	if d == "" || len(d) > 253 {
		return fmt.Errorf("tunnel config: DNS domain %q is not a valid domain name", d)
	}
	for _, l := range strings.Split(d, ".") {
		if !labelRe.MatchString(l) {
			return fmt.Errorf("tunnel config: DNS domain %q is not a valid domain name", d)
		}
	}
	return nil
}

// ResolveEndpoint turns "host:port" into an IP:port (UAPI needs an address).
// It prefers IPv4 when both families exist.
func ResolveEndpoint(ctx context.Context, hostport string) (netip.AddrPort, error) {
	if ap, err := netip.ParseAddrPort(hostport); err == nil {
		return ap, nil
	}
	host, port, err := net.SplitHostPort(hostport)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("server endpoint %q is not host:port: %w", hostport, err)
	}
	pn, err := net.DefaultResolver.LookupPort(ctx, "udp", port)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("server endpoint %q: bad port: %w", hostport, err)
	}
	addrs, err := net.DefaultResolver.LookupNetIP(ctx, "ip", host)
	if err != nil || len(addrs) == 0 {
		return netip.AddrPort{}, fmt.Errorf("cannot resolve the server endpoint %q (check your network and DNS): %v", host, err)
	}
	best := addrs[0]
	for _, a := range addrs {
		if a.Unmap().Is4() {
			best = a
			break
		}
	}
	return netip.AddrPortFrom(best.Unmap(), uint16(pn)), nil
}
