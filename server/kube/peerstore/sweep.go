package peerstore

import (
	"context"
	"encoding/json"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/ghostwire/ghostwire/server/kube/records"
	"github.com/ghostwire/ghostwire/server/registry"
	"github.com/ghostwire/ghostwire/server/sweep"
)

// Sweep reads the device, votes on idle peers, removes peers every live
// replica finds idle and peers past their lifetime, and deletes Address
// records unused for the rest period. It returns what this replica removed.
func (s *Store) Sweep(ctx context.Context) ([]registry.Removed, error) {
	if !s.ready.Load() {
		return nil, nil
	}
	start := time.Now()
	devPeers, err := s.o.Device.Peers()
	if err != nil {
		s.log.Error("reading the WireGuard device for the sweep failed", "error", err.Error())
		return nil, err
	}
	now := s.o.Now()
	stats := sweep.Stats(devPeers, now, s.o.Metrics)
	// Rate buckets, stats and keys no record names: as with one replica.
	removed, errs := s.o.Registry.Reconcile(stats)
	for _, e := range errs {
		s.log.Error("sweep: removing a peer from the device failed", "error", e.Error())
	}
	for _, r := range removed {
		sweep.Record(ctx, s.o.Audit, s.o.Metrics, r)
	}

	live := s.o.Replicas.LiveNames()
	serverNow := s.o.Client.Clock().Now()
	for _, p := range s.o.Registry.List() {
		rec, ok := s.cachedPeer(p.Key)
		if !ok {
			continue // its deletion is on the way
		}
		reason := ""
		if !serverNow.Before(rec.Spec.ExpiresAt.Time) {
			reason = registry.ReasonExpired
		} else if reason = s.vote(ctx, p, rec, now, live); reason == "" {
			continue
		}
		mine, err := s.deleteRecord(ctx, p.Key)
		if err != nil {
			s.log.Warn("could not remove a peer from the shared records; trying again next sweep", "key", p.Key.String(), "error", err.Error())
			continue
		}
		if !mine {
			continue // another replica decided it at the same moment, and says so
		}
		r := registry.Removed{Peer: p, Reason: reason}
		removed = append(removed, r)
		sweep.Record(ctx, s.o.Audit, s.o.Metrics, r)
	}
	s.collectAddresses(ctx, now)
	s.o.Metrics.Sweeps.Inc()
	s.o.Metrics.ActivePeers.Set(float64(s.o.Registry.Len()))
	s.o.Metrics.SweepSeconds.Observe(time.Since(start).Seconds())
	return removed, nil
}

// vote casts or withdraws this replica's idle vote on p's record and says
// whether every live replica now agrees (the reason to remove it, or "").
// This replica's view: no handshake for the idle timeout, or none at all
// since it started holding the peer plus the registration grace. Both are
// judged on this replica's own clock, against times its own device wrote.
func (s *Store) vote(ctx context.Context, p registry.Peer, rec *records.Peer, now time.Time, live map[string]bool) string {
	s.mu.Lock()
	since := s.applied[p.Key].since
	s.mu.Unlock()
	mine := ""
	if !since.IsZero() {
		mine = registry.IdleReason(now, since, p.LatestHandshake, s.o.Grace, s.o.IdleTimeout)
	}
	cur, voted := rec.Status.Idle[s.o.Replica]
	switch {
	case mine != "" && (!voted || cur.Reason != mine):
		s.patchVote(ctx, rec.Name, &records.IdleVote{Reason: mine, Since: metav1.NewTime(now.UTC().Truncate(time.Second))})
	case mine == "" && voted:
		s.patchVote(ctx, rec.Name, nil)
	}
	if mine == "" {
		return ""
	}
	reason := mine
	for name := range live {
		if name == s.o.Replica {
			continue
		}
		v, ok := rec.Status.Idle[name]
		if !ok {
			return ""
		}
		if v.Reason == registry.ReasonIdle {
			reason = registry.ReasonIdle // someone saw it used once
		}
	}
	return reason
}

// patchVote writes (or with nil, withdraws) this replica's vote; a merge
// patch touches only this replica's key, so votes of others are never lost.
func (s *Store) patchVote(ctx context.Context, name string, v *records.IdleVote) {
	patch, _ := json.Marshal(map[string]any{"status": map[string]any{"idle": map[string]any{s.o.Replica: v}}})
	if _, err := s.o.Client.PatchPeer(ctx, name, patch); err != nil && !apierrors.IsNotFound(err) {
		s.log.Debug("could not record this replica's idle vote; next sweep", "record", name, "error", err.Error())
	}
}

// collectAddresses deletes Address records no peer has used for the rest
// period (at least orphanGrace), as this replica saw it. The precondition
// keeps a record that was reused meanwhile.
func (s *Store) collectAddresses(ctx context.Context, now time.Time) {
	rest := max(s.o.AddressRest, orphanGrace)
	var gone []*holder
	s.mu.Lock()
	for a, h := range s.holders {
		used := false
		if h.valid {
			if rec, ok := s.cachedPeer(h.key); ok {
				used = rec.Spec.Address == a.String()
			}
		}
		switch {
		case used:
			h.orphaned = time.Time{}
		case h.orphaned.IsZero():
			h.orphaned = now
		case now.Sub(h.orphaned) >= rest:
			cp := *h
			gone = append(gone, &cp)
		}
	}
	s.mu.Unlock()
	for _, h := range gone {
		err := s.o.Client.DeleteAddress(ctx, h.name, h.uid, h.rv)
		if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
			s.log.Debug("could not delete an unused address record; next sweep", "record", h.name, "error", err.Error())
		}
	}
}
