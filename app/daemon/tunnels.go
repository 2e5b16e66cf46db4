package daemon

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"strconv"
	"time"

	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"

	"github.com/ghostwire/ghostwire/app/engine"
	"github.com/ghostwire/ghostwire/tunnel"
)

// Tunnels adapts the tunnel package to the engine's port.
type Tunnels struct {
	JournalDir string
	DNSMode    tunnel.DNSMode
	// ResolvConf and DBusAddress are passed through (tests use their own).
	ResolvConf  string
	DBusAddress string
	Log         *slog.Logger
}

func (ts *Tunnels) config(ctx context.Context, c engine.TunnelConfig) (tunnel.Config, error) {
	ep, err := tunnel.ResolveEndpoint(ctx, c.Endpoint)
	if err != nil {
		return tunnel.Config{}, &engine.ServerError{Kind: engine.ErrUnreachable,
			Message: fmt.Sprintf("cannot find the address of the server's WireGuard endpoint %s: %v", c.Endpoint, err)}
	}
	return tunnel.Config{
		Interface:  c.Interface,
		PrivateKey: tunnel.PrivateKey(c.PrivateKey),
		Address:    c.Address,
		MTU:        c.MTU,
		Peer: tunnel.Peer{PublicKey: c.PeerPublicKey, Endpoint: ep, AllowedIPs: c.Routes,
			Keepalive: c.Keepalive},
		Standby:     ts.standby(ctx, c.Standby, c.Keepalive),
		DNS:         tunnel.DNS{Servers: c.DNSServers, Search: c.SearchDomains, Match: c.MatchDomains},
		JournalDir:  ts.JournalDir,
		DNSMode:     ts.DNSMode,
		ResolvConf:  ts.ResolvConf,
		DBusAddress: ts.DBusAddress,
		StubAddress: stubAddress(c.Interface),
	}, nil
}

// stubAddress gives each profile its own local DNS forwarder address
// (127.0.0.153 for gw0, .154 for gw1, ...) so that two profiles in stub mode
// do not fight over one port; the second forwards what is not its own to the
// first, as it finds it in resolv.conf.
func stubAddress(ifname string) netip.AddrPort {
	i := len(ifname)
	for i > 0 && ifname[i-1] >= '0' && ifname[i-1] <= '9' {
		i--
	}
	n, err := strconv.Atoi(ifname[i:])
	if err != nil || n > 100 {
		return netip.AddrPort{} // the tunnel's default
	}
	return netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 0, byte(153 + n)}), 53)
}

// standby resolves the server's other replicas; one whose endpoint cannot
// be resolved now is left out (the next list of replicas brings it back).
func (ts *Tunnels) standby(ctx context.Context, sb []engine.StandbyPeer, keepalive time.Duration) []tunnel.Peer {
	var out []tunnel.Peer
	for _, s := range sb {
		ep, err := tunnel.ResolveEndpoint(ctx, s.Endpoint)
		if err != nil {
			if ts.Log != nil {
				ts.Log.Warn("leaving out a server replica whose endpoint cannot be resolved", "replica", s.Name, "endpoint", s.Endpoint, "err", err)
			}
			continue
		}
		out = append(out, tunnel.Peer{PublicKey: s.PublicKey, Endpoint: ep, Keepalive: keepalive})
	}
	return out
}

// Up brings a tunnel up.
func (ts *Tunnels) Up(ctx context.Context, c engine.TunnelConfig) (engine.Tunnel, error) {
	cfg, err := ts.config(ctx, c)
	if err != nil {
		return nil, err
	}
	t, err := tunnel.Up(ctx, cfg, ts.Log)
	if err != nil {
		return nil, err
	}
	return &tunnelAdapter{ts: ts, t: t}, nil
}

type tunnelAdapter struct {
	ts *Tunnels
	t  *tunnel.Tunnel
}

func (a *tunnelAdapter) Reconfigure(ctx context.Context, c engine.TunnelConfig) error {
	cfg, err := a.ts.config(ctx, c)
	if err != nil {
		return err
	}
	// A new address is handled by the tunnel: it re-adds every route that
	// the kernel flushed with the old address (see tunnel.Reconfigure).
	return a.t.Reconfigure(ctx, cfg)
}

// PeerStats, RehandshakePeer, Activate and SetStandby: the server's other
// replicas as standby peers (engine.Replicas).
func (a *tunnelAdapter) PeerStats() (map[wgtypes.Key]engine.TunnelStats, error) {
	st, err := a.t.PeerStats()
	if err != nil {
		return nil, err
	}
	out := make(map[wgtypes.Key]engine.TunnelStats, len(st))
	for k, s := range st {
		out[k] = engine.TunnelStats{LatestHandshake: s.LatestHandshake, RxBytes: s.RxBytes, TxBytes: s.TxBytes}
	}
	return out, nil
}

func (a *tunnelAdapter) RehandshakePeer(k wgtypes.Key) error { return a.t.RehandshakePeer(k) }
func (a *tunnelAdapter) Activate(k wgtypes.Key) error        { return a.t.Activate(k) }

// SetStandby resolves the standbys' endpoints within 5 s; when the run
// (ctx) ends meanwhile, the tunnel is left as it is.
func (a *tunnelAdapter) SetStandby(ctx context.Context, c engine.TunnelConfig) error {
	rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	sb := a.ts.standby(rctx, c.Standby, c.Keepalive)
	if err := ctx.Err(); err != nil {
		return err
	}
	return a.t.SetStandby(sb)
}

func (a *tunnelAdapter) Stats() (engine.TunnelStats, error) {
	s, err := a.t.Stats()
	return engine.TunnelStats{LatestHandshake: s.LatestHandshake, RxBytes: s.RxBytes, TxBytes: s.TxBytes}, err
}

func (a *tunnelAdapter) Kick() error               { return a.t.Kick() }
func (a *tunnelAdapter) Outgoing() <-chan struct{} { return a.t.Outgoing() }
func (a *tunnelAdapter) Rehandshake() error        { return a.t.Rehandshake() }
func (a *tunnelAdapter) Close() error              { return a.t.Close() }
