package daemon

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"

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
		DNS:         tunnel.DNS{Servers: c.DNSServers, Search: c.SearchDomains, Match: c.MatchDomains},
		JournalDir:  ts.JournalDir,
		DNSMode:     ts.DNSMode,
		ResolvConf:  ts.ResolvConf,
		DBusAddress: ts.DBusAddress,
	}, nil
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
	return &tunnelAdapter{ts: ts, t: t, addr: cfg.Address}, nil
}

type tunnelAdapter struct {
	ts   *Tunnels
	t    *tunnel.Tunnel
	addr netip.Prefix
}

func (a *tunnelAdapter) Reconfigure(ctx context.Context, c engine.TunnelConfig) error {
	cfg, err := a.ts.config(ctx, c)
	if err != nil {
		return err
	}
	if cfg.Address != a.addr {
		// Workaround: tunnel.Reconfigure removes the old address before adding
		// the new one; with no IPv4 address left the kernel flushes the
		// interface's routes, which the tunnel still believes are there.
		// Going through "no routes" first makes it add them again.
		bare := cfg
		bare.Peer.AllowedIPs = nil
		if err := a.t.Reconfigure(ctx, bare); err != nil {
			return err
		}
	}
	if err := a.t.Reconfigure(ctx, cfg); err != nil {
		return err
	}
	a.addr = cfg.Address
	return nil
}

func (a *tunnelAdapter) Stats() (engine.TunnelStats, error) {
	s, err := a.t.Stats()
	return engine.TunnelStats{LatestHandshake: s.LatestHandshake, RxBytes: s.RxBytes, TxBytes: s.TxBytes}, err
}

func (a *tunnelAdapter) Kick() error  { return a.t.Kick() }
func (a *tunnelAdapter) Close() error { return a.t.Close() }
