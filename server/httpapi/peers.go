package httpapi

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"

	"github.com/ghostwire/ghostwire/auth/verify"
	"github.com/ghostwire/ghostwire/server/api"
	"github.com/ghostwire/ghostwire/server/audit"
	"github.com/ghostwire/ghostwire/server/dnsconf"
	"github.com/ghostwire/ghostwire/server/registry"
	"github.com/ghostwire/ghostwire/server/wgkey"
)

func owner(id *verify.Identity) registry.Owner {
	return registry.Owner{Subject: id.Subject, Name: id.Name, ObjectID: id.ObjectID}
}

func (s *Server) register(w http.ResponseWriter, r *http.Request) {
	const action = "register"
	id, ok := s.authenticate(w, r, action)
	if !ok {
		return
	}
	var req api.RegisterRequest
	if status, msg := decodeStrict(w, r, &req); status != 0 {
		s.deny(r, w, action, id, "", status, api.CodeBadRequest, msg, msg)
		return
	}
	key, err := wgkey.Parse(req.PublicKey)
	if err == nil && s.isServerKey(key) {
		err = errors.New("this is the server's own WireGuard key, not yours: send the public key of the key pair your client made")
	}
	if err != nil {
		s.deny(r, w, action, id, "", http.StatusBadRequest, api.CodeBadRequest, "public_key: "+err.Error(), "bad public_key")
		return
	}
	if err := checkDeviceName(req.DeviceName); err != nil {
		s.deny(r, w, action, id, req.PublicKey, http.StatusBadRequest, api.CodeBadRequest, err.Error(), "bad device_name")
		return
	}
	var replaces *wgtypes.Key
	if req.Replaces != "" {
		k, err := wgkey.Parse(req.Replaces)
		if err != nil {
			s.deny(r, w, action, id, req.PublicKey, http.StatusBadRequest, api.CodeBadRequest, "replaces: "+err.Error(), "bad replaces")
			return
		}
		replaces = &k
	}
	// Without an endpoint the client could not use its peer: refuse before
	// touching the device.
	endpoint, err := s.o.Network.Endpoint.Endpoint()
	if err != nil {
		s.deny(r, w, action, id, req.PublicKey, http.StatusServiceUnavailable, api.CodeUnavailable,
			"the server does not know its public WireGuard endpoint yet ("+err.Error()+"); try again in a minute", "no endpoint: "+err.Error())
		return
	}
	p, created, replaced, err := s.o.Peers.Register(r.Context(), owner(id), key, req.DeviceName, replaces)
	if err != nil {
		switch {
		case errors.Is(err, registry.ErrDenied):
			s.deny(r, w, action, id, req.PublicKey, http.StatusForbidden, api.CodeForbidden, msgDenied, "deny list")
		case errors.Is(err, registry.ErrConflict):
			s.deny(r, w, action, id, req.PublicKey, http.StatusConflict, api.CodeConflict,
				"this WireGuard key is registered by another user: generate a new key pair (ghostwire does this by itself on reconnect)", "key owned by another user")
		case errors.Is(err, registry.ErrTooMany):
			s.deny(r, w, action, id, req.PublicKey, http.StatusTooManyRequests, api.CodeTooManyPeers,
				"you already have the maximum number of devices connected: disconnect one of them (ghostwire down), or wait for idle ones to expire", "device cap reached")
		case errors.Is(err, registry.ErrRateLimited):
			wait := s.o.Peers.RetryAfter(id.Subject)
			secs := int(wait.Seconds()) + 1
			w.Header().Set("Retry-After", strconv.Itoa(secs))
			s.deny(r, w, action, id, req.PublicKey, http.StatusTooManyRequests, api.CodeRateLimited,
				fmt.Sprintf("you connected new devices too often in a short time: try again in %d seconds", secs), "registration rate limit")
		case errors.Is(err, registry.ErrUnavailable):
			s.unavailable(w, r, action, id, err)
		case errors.Is(err, registry.ErrExhausted):
			s.deny(r, w, action, id, req.PublicKey, http.StatusServiceUnavailable, api.CodePoolExhausted,
				"the VPN has no free address right now: try again in a few minutes, and tell your admin to enlarge the address pool (--cidr)", "address pool exhausted")
		default:
			s.o.Logger.Error("registering a peer failed", "error", err.Error())
			s.deny(r, w, action, id, req.PublicKey, http.StatusInternalServerError, api.CodeInternal,
				"the server could not set up your tunnel; try again, and tell your admin if it persists", err.Error())
		}
		return
	}
	result, status, act := "existing", http.StatusOK, action
	if created {
		result, status = "created", http.StatusCreated
		s.o.Metrics.ActivePeers.Set(float64(s.o.Peers.Len()))
	}
	reason := result
	switch {
	case replaced != nil:
		// Only the owner's own peer is ever taken over (registry.Register):
		// a rotation, or a restarted client taking over what a crashed one left.
		result, act = "rotated", "rotate"
		reason = "rotated: takes over " + replaced.Key.String() + ", a peer of the same user (its address, not counted against the cap)"
		s.o.Metrics.Removals.WithLabelValues(registry.ReasonReplaced).Inc()
		s.o.Audit.Log(r.Context(), audit.Event{Decision: "remove", Action: act, Subject: replaced.Owner.Subject, Name: replaced.Owner.Name,
			Key: replaced.Key.String(), Address: replaced.Addr.String(), Reason: replaced.Reason + ": taken over by its owner's new key " + p.Key.String()})
	case replaces != nil && created:
		reason = result + "; replaces " + replaces.String() + " ignored: this user has no peer with that key (expired, removed, or another user's)"
	}
	s.o.Metrics.Registrations.WithLabelValues(result).Inc()
	s.o.Audit.Log(r.Context(), audit.Event{Decision: "allow", Action: act, Subject: id.Subject, Name: id.Name,
		Key: p.Key.String(), Address: p.Addr.String(), Remote: s.remote(r), Reason: reason, Status: status})
	writeJSON(w, status, s.peerJSON(p, endpoint))
}

// unavailable refuses a request the shared peer records could not serve
// (the Kubernetes API is unreachable): nothing changed, try again.
func (s *Server) unavailable(w http.ResponseWriter, r *http.Request, action string, id *verify.Identity, err error) {
	s.o.Logger.Warn("the shared peer records cannot be reached", "action", action, "error", err.Error())
	w.Header().Set("Retry-After", "5")
	s.deny(r, w, action, id, r.PathValue("key"), http.StatusServiceUnavailable, api.CodeUnavailable,
		"the VPN cannot reach its peer records right now (your connection, if you have one, keeps working); try again in a minute", err.Error())
}

// peerJSON is everything a client needs for its tunnel.
func (s *Server) peerJSON(p registry.Peer, endpoint string) api.Peer {
	n := s.o.Network
	search := n.SearchDomains
	if n.Domains != nil {
		search = dnsconf.Merge(search, n.Domains.SearchDomains())
	}
	out := api.Peer{
		PublicKey:          p.Key.String(),
		DeviceName:         p.DeviceName,
		Address:            p.Prefix().String(),
		ServerPublicKey:    n.ServerPublicKey.String(),
		Endpoint:           endpoint,
		Routes:             nonNil(n.Routes),
		DNSServers:         nonNil(n.DNSServers),
		SearchDomains:      nonNil(search),
		MatchDomains:       dnsconf.MatchDomains(n.MatchDomains, search),
		MTU:                n.MTU,
		KeepaliveSeconds:   int(n.Keepalive / time.Second),
		CreatedAt:          p.CreatedAt.UTC(),
		ExpiresAt:          p.ExpiresAt.UTC(),
		IdleTimeoutSeconds: int(n.IdleTimeout / time.Second),
		RxBytes:            p.RxBytes,
		TxBytes:            p.TxBytes,
		RemoteEndpoint:     p.Endpoint,
	}
	if s.o.Replicas != nil {
		out.Replicas = s.o.Replicas()
	}
	if !p.LatestHandshake.IsZero() {
		t := p.LatestHandshake.UTC()
		out.LatestHandshake = &t
	}
	return out
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// pathKey parses {key}; the mux has already unescaped it.
func (s *Server) pathKey(w http.ResponseWriter, r *http.Request, id *verify.Identity, action string) (wgtypes.Key, bool) {
	raw := r.PathValue("key")
	k, err := wgkey.Parse(raw)
	if err != nil {
		msg := "the key in the URL: " + err.Error()
		if strings.Contains(raw, " ") {
			msg += " (escape '+' as %2B and '/' as %2F in the path)"
		}
		s.deny(r, w, action, id, "", http.StatusBadRequest, api.CodeBadRequest, msg, "bad key in path")
		return wgtypes.Key{}, false
	}
	return k, true
}

func (s *Server) getPeer(w http.ResponseWriter, r *http.Request) {
	const action = "get"
	id, ok := s.authenticate(w, r, action)
	if !ok {
		return
	}
	k, ok := s.pathKey(w, r, id, action)
	if !ok {
		return
	}
	p, err := s.o.Peers.Get(r.Context(), owner(id), k)
	if errors.Is(err, registry.ErrUnavailable) {
		s.unavailable(w, r, action, id, err)
		return
	}
	if err != nil {
		s.deny(r, w, action, id, r.PathValue("key"), http.StatusNotFound, api.CodeNotFound,
			"this server has no peer with that key for you (it expired, was removed, or the server restarted): register again", "not found or not owned")
		return
	}
	endpoint, _ := s.o.Network.Endpoint.Endpoint()
	writeJSON(w, http.StatusOK, s.peerJSON(p, endpoint))
}

func (s *Server) deletePeer(w http.ResponseWriter, r *http.Request) {
	const action = "delete"
	id, ok := s.authenticate(w, r, action)
	if !ok {
		return
	}
	k, ok := s.pathKey(w, r, id, action)
	if !ok {
		return
	}
	p, err := s.o.Peers.Remove(r.Context(), owner(id), k)
	if errors.Is(err, registry.ErrUnavailable) {
		s.unavailable(w, r, action, id, err)
		return
	}
	if errors.Is(err, registry.ErrNotFound) && id.Admin {
		s.adminDeletePeer(w, r, id, k)
		return
	}
	if errors.Is(err, registry.ErrNotFound) {
		s.deny(r, w, action, id, r.PathValue("key"), http.StatusNotFound, api.CodeNotFound,
			"this server has no peer with that key for you (already removed or expired): nothing to do", "not found or not owned")
		return
	}
	reason := registry.ReasonDisconnect
	if err != nil {
		s.o.Logger.Error("removing a peer from the device failed", "error", err.Error())
		reason += " (" + err.Error() + ")"
	}
	s.o.Metrics.Removals.WithLabelValues(registry.ReasonDisconnect).Inc()
	s.o.Metrics.ActivePeers.Set(float64(s.o.Peers.Len()))
	s.o.Audit.Log(r.Context(), audit.Event{Decision: "remove", Action: action, Subject: id.Subject, Name: id.Name,
		Key: p.Key.String(), Address: p.Addr.String(), Remote: s.remote(r), Reason: reason})
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) list(w http.ResponseWriter, r *http.Request) {
	const action = "list"
	id, ok := s.authenticate(w, r, action)
	if !ok {
		return
	}
	if !id.Admin {
		s.deny(r, w, action, id, "", http.StatusForbidden, api.CodeForbidden,
			"listing all peers needs the VPN admin role: ask your admin to assign it to you", "not admin")
		return
	}
	peers := s.o.Peers.List()
	out := api.PeerList{Peers: make([]api.PeerSummary, 0, len(peers))}
	for _, p := range peers {
		out.Peers = append(out.Peers, summary(p))
	}
	s.o.Audit.Log(r.Context(), audit.Event{Decision: "allow", Action: action, Subject: id.Subject, Name: id.Name, Remote: s.remote(r), Reason: "admin"})
	writeJSON(w, http.StatusOK, out)
}

// summary is a peer as an admin sees it.
func summary(p registry.Peer) api.PeerSummary {
	ps := api.PeerSummary{PublicKey: p.Key.String(), User: p.Owner.Subject, DisplayName: p.Owner.Name, DeviceName: p.DeviceName,
		Address: p.Prefix().String(), RemoteEndpoint: p.Endpoint, CreatedAt: p.CreatedAt.UTC(), ExpiresAt: p.ExpiresAt.UTC(),
		RxBytes: p.RxBytes, TxBytes: p.TxBytes}
	if !p.LatestHandshake.IsZero() {
		t := p.LatestHandshake.UTC()
		ps.LatestHandshake = &t
	}
	return ps
}

// isServerKey is whether key is this replica's WireGuard key or a live
// replica's: as a peer it would never complete a handshake on any of them.
func (s *Server) isServerKey(key wgtypes.Key) bool {
	if key == s.o.Network.ServerPublicKey {
		return true
	}
	if s.o.Replicas != nil {
		for _, r := range s.o.Replicas() {
			if r.PublicKey == key.String() {
				return true
			}
		}
	}
	return false
}
