package httpapi

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"

	"github.com/ghostwire/ghostwire/auth/verify"
	"github.com/ghostwire/ghostwire/server/api"
	"github.com/ghostwire/ghostwire/server/audit"
	"github.com/ghostwire/ghostwire/server/denylist"
	"github.com/ghostwire/ghostwire/server/registry"
)

// msgDenied is what a user on the deny list reads.
const msgDenied = "your access to this VPN has been revoked by an administrator: ask them if you think this is a mistake"

func (s *Server) denied(subject, oid string) (string, bool) {
	if s.o.Deny == nil {
		return "", false
	}
	return s.o.Deny.Denied(subject, oid)
}

// adminDeletePeer removes someone else's peer for an admin (the caller's
// own peers go through deletePeer's ordinary path).
func (s *Server) adminDeletePeer(w http.ResponseWriter, r *http.Request, id *verify.Identity, k wgtypes.Key) {
	const action = "admin_delete"
	p, err := s.o.Peers.RemoveAny(r.Context(), k)
	if errors.Is(err, registry.ErrUnavailable) {
		s.unavailable(w, r, action, id, err)
		return
	}
	if errors.Is(err, registry.ErrNotFound) {
		s.deny(r, w, action, id, k.String(), http.StatusNotFound, api.CodeNotFound,
			"this server has no peer with that key (already removed or expired): nothing to do", "not found")
		return
	}
	reason := registry.ReasonAdmin
	if err != nil {
		s.o.Logger.Error("removing a peer from the device failed", "error", err.Error())
		reason += " (" + err.Error() + ")"
	}
	s.removed(r.Context(), action, id, []registry.Removed{{Peer: p, Reason: reason}}, s.remote(r))
	w.WriteHeader(http.StatusNoContent)
}

// deleteUserPeers is DELETE /v1/peers?user=<user> (admin role only): every
// peer of one user, at once.
func (s *Server) deleteUserPeers(w http.ResponseWriter, r *http.Request) {
	const action = "admin_delete"
	id, ok := s.authenticate(w, r, action)
	if !ok {
		return
	}
	if !id.Admin {
		s.deny(r, w, action, id, "", http.StatusForbidden, api.CodeForbidden,
			"removing other users' peers needs the VPN admin role: ask your admin to assign it to you", "not admin")
		return
	}
	q := r.URL.Query()
	user := strings.TrimSpace(q.Get(api.QueryUser))
	if user == "" || len(q[api.QueryUser]) != 1 || len(q) != 1 {
		s.deny(r, w, action, id, "", http.StatusBadRequest, api.CodeBadRequest,
			"say whose peers to remove: DELETE /v1/peers?user=<subject or oid> (one user, as listed by GET /v1/peers)", "no or several user parameters")
		return
	}
	removed, errs := s.o.Peers.RemoveWhere(r.Context(), func(o registry.Owner) bool {
		return denylist.Match(user, o.Subject, o.ObjectID)
	}, registry.ReasonAdmin)
	for _, e := range errs {
		s.o.Logger.Error("removing a peer from the device failed", "error", e.Error())
	}
	s.removed(r.Context(), action, id, removed, s.remote(r))
	s.o.Audit.Log(r.Context(), audit.Event{Decision: "allow", Action: action, Subject: id.Subject, Name: id.Name, Owner: user,
		Remote: s.remote(r), Reason: "admin: all peers of a user", Status: http.StatusOK})
	out := api.RemovedPeers{User: user, Removed: make([]api.PeerSummary, 0, len(removed))}
	for _, p := range removed {
		out.Removed = append(out.Removed, summary(p.Peer))
	}
	writeJSON(w, http.StatusOK, out)
}

// EnforceDenyList removes every peer whose owner the deny list now refuses;
// call it after each reload that changed the list. The registry refuses new
// registrations of denied users itself, so none slips in between.
func (s *Server) EnforceDenyList(ctx context.Context) []registry.Removed {
	if s.o.Deny == nil {
		return nil
	}
	removed, errs := s.o.Peers.RemoveWhere(ctx, func(o registry.Owner) bool {
		_, d := s.o.Deny.Denied(o.Subject, o.ObjectID)
		return d
	}, registry.ReasonDenied)
	for _, e := range errs {
		s.o.Logger.Error("removing a denied user's peer from the device failed", "error", e.Error())
	}
	s.removed(ctx, "deny_list", nil, removed, "")
	return removed
}

// removed counts and audits removals; by is the admin who asked (nil for
// the deny list), and the peer's owner is named beside.
func (s *Server) removed(ctx context.Context, action string, by *verify.Identity, removed []registry.Removed, remote string) {
	if len(removed) == 0 {
		return
	}
	for _, p := range removed {
		reason := p.Reason
		if i := strings.IndexByte(reason, ' '); i > 0 {
			reason = reason[:i] // the metric label without the device error
		}
		s.o.Metrics.Removals.WithLabelValues(reason).Inc()
		e := audit.Event{Decision: "remove", Action: action, Owner: p.Owner.Subject, OwnerName: p.Owner.Name,
			Key: p.Key.String(), Address: p.Addr.String(), Remote: remote, Reason: p.Reason}
		if by != nil {
			e.Subject, e.Name = by.Subject, by.Name
		} else {
			e.Subject, e.Name = p.Owner.Subject, p.Owner.Name
		}
		s.o.Audit.Log(ctx, e)
	}
	s.o.Metrics.ActivePeers.Set(float64(s.o.Peers.Len()))
}
