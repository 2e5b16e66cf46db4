// Package sweep is the server's one expiry loop: it reads the device's live
// state, records it in the registry, removes peers that are idle, silent
// since registration or past their lifetime, and audits every removal.
package sweep

import (
	"context"
	"log/slog"
	"time"

	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"

	"github.com/ghostwire/ghostwire/server/audit"
	"github.com/ghostwire/ghostwire/server/metrics"
	"github.com/ghostwire/ghostwire/server/registry"
)

// Device reads every peer's live state.
type Device interface {
	Peers() ([]wgtypes.Peer, error)
}

// Sweeper removes idle and expired peers.
type Sweeper struct {
	Registry *registry.Registry
	Device   Device
	Audit    *audit.Logger
	Metrics  *metrics.Metrics
	Logger   *slog.Logger
	Now      func() time.Time
}

// Once runs one sweep and returns what it removed.
func (s *Sweeper) Once(ctx context.Context) ([]registry.Removed, error) {
	start := time.Now()
	now := time.Now
	if s.Now != nil {
		now = s.Now
	}
	peers, err := s.Device.Peers()
	if err != nil {
		// Without live state, only lifetimes can be judged: idle peers would
		// look silent. Sweep nothing; try again next time.
		s.Logger.Error("reading the WireGuard device for the sweep failed", "error", err.Error())
		return nil, err
	}
	removed, errs := s.Registry.Sweep(Stats(peers, now(), s.Metrics))
	for _, e := range errs {
		s.Logger.Error("sweep: removing a peer from the device failed", "error", e.Error())
	}
	for _, r := range removed {
		Record(ctx, s.Audit, s.Metrics, r)
	}
	s.Metrics.Sweeps.Inc()
	s.Metrics.ActivePeers.Set(float64(s.Registry.Len()))
	s.Metrics.SweepSeconds.Observe(time.Since(start).Seconds())
	return removed, nil
}

// Record counts and audits one removal a sweep made.
func Record(ctx context.Context, a *audit.Logger, m *metrics.Metrics, r registry.Removed) {
	m.Removals.WithLabelValues(r.Reason).Inc()
	e := audit.Event{Decision: "remove", Action: "sweep", Subject: r.Owner.Subject, Name: r.Owner.Name, Key: r.Key.String(), Reason: r.Reason}
	if r.Addr.IsValid() {
		e.Address = r.Addr.String()
	}
	a.Log(ctx, e)
}

// Stats is what the device says of each peer, as the registry records it;
// every handshake's age goes to the metrics.
func Stats(peers []wgtypes.Peer, now time.Time, m *metrics.Metrics) map[wgtypes.Key]registry.Stats {
	stats := make(map[wgtypes.Key]registry.Stats, len(peers))
	for _, p := range peers {
		st := registry.Stats{LatestHandshake: p.LastHandshakeTime, RxBytes: p.ReceiveBytes, TxBytes: p.TransmitBytes}
		if p.Endpoint != nil {
			st.Endpoint = p.Endpoint.String()
		}
		if !p.LastHandshakeTime.IsZero() {
			m.HandshakeAge.Observe(now.Sub(p.LastHandshakeTime).Seconds())
		}
		stats[p.PublicKey] = st
	}
	return stats
}

// Run sweeps every interval until ctx ends.
func (s *Sweeper) Run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			_, _ = s.Once(ctx)
		}
	}
}
