// Package api is the wire contract of ghostwire-server's /v1 HTTP API, shared by
// the server and the client so the two can never drift. docs/api.md documents the
// JSON; every field here appears there.
package api

import "time"

// Paths of the /v1 API.
const (
	PathConfig = "/v1/config"
	PathPeers  = "/v1/peers"
	// PathPeer is followed by the URL-path-escaped base64 public key.
	PathPeer = "/v1/peers/"
	// QueryUser names the user whose peers DELETE /v1/peers?user=<user>
	// removes (admin role only): the subject as listed by GET /v1/peers, the
	// part after its '#', or the Entra object ID (oid).
	QueryUser = "user"
)

// Provider kinds a server can ask clients to sign in with.
const (
	ProviderEntra = "entra"
	ProviderOIDC  = "oidc"
)

// MaxBodyBytes bounds every request body the server reads.
const MaxBodyBytes = 4 << 10

// Config is the answer to GET /v1/config: everything a client needs to sign in.
// None of it is secret.
type Config struct {
	ServerName string `json:"server_name"`
	// Provider is ProviderEntra or ProviderOIDC.
	Provider string `json:"provider"`
	// Issuer is the exact issuer tokens must carry (for Entra v2:
	// https://login.microsoftonline.com/<tenant>/v2.0).
	Issuer string `json:"issuer"`
	// TenantID is set for Entra.
	TenantID string `json:"tenant_id,omitempty"`
	// ClientID is the public client the laptop signs in as.
	ClientID string `json:"client_id"`
	// Scopes to request, e.g. ["api://<api-app-id>/vpn.connect"].
	Scopes []string `json:"scopes"`
	// Version of the server, for support.
	Version string `json:"version,omitempty"`
}

// RegisterRequest is the body of POST /v1/peers.
type RegisterRequest struct {
	// PublicKey is the client's WireGuard public key, standard base64 (44 chars).
	PublicKey string `json:"public_key"`
	// DeviceName is a label chosen by the client (hostname), ≤ 64 printable chars.
	DeviceName string `json:"device_name,omitempty"`
	// Replaces is the public key of a peer the same user owns that this one
	// takes over (key rotation): the new peer keeps its address, so open
	// connections survive, and the old peer is removed. Optional.
	Replaces string `json:"replaces,omitempty"`
}

// Peer is the answer to POST /v1/peers and GET /v1/peers/{key}: everything the
// client needs to bring its tunnel up, plus live status.
type Peer struct {
	PublicKey  string `json:"public_key"`
	DeviceName string `json:"device_name,omitempty"`
	// Address is the client's tunnel address as a prefix (e.g. 100.64.0.7/32).
	Address string `json:"address"`
	// ServerPublicKey is the server's WireGuard public key, standard base64.
	ServerPublicKey string `json:"server_public_key"`
	// Endpoint is the server's public WireGuard UDP endpoint, host:port.
	Endpoint string `json:"endpoint"`
	// Routes are the ranges to send into the tunnel (pod, service, VNet CIDRs).
	Routes []string `json:"routes"`
	// DNSServers answer the match domains (the cluster's CoreDNS).
	DNSServers []string `json:"dns_servers"`
	// SearchDomains make short names work (prometheus → prometheus.monitoring.svc.cluster.local).
	SearchDomains []string `json:"search_domains"`
	// MatchDomains are the only domains sent to DNSServers (split DNS).
	MatchDomains []string `json:"match_domains"`
	MTU          int      `json:"mtu"`
	// KeepaliveSeconds is the persistent keepalive the client should use.
	KeepaliveSeconds int       `json:"keepalive_seconds"`
	CreatedAt        time.Time `json:"created_at"`
	// ExpiresAt is the peer's maximum lifetime; the client re-registers before it.
	ExpiresAt time.Time `json:"expires_at"`
	// IdleTimeoutSeconds: the server removes the peer after this long without a handshake.
	IdleTimeoutSeconds int `json:"idle_timeout_seconds"`

	// Live status, filled on GET.
	LatestHandshake *time.Time `json:"latest_handshake,omitempty"`
	RxBytes         int64      `json:"rx_bytes,omitempty"`
	TxBytes         int64      `json:"tx_bytes,omitempty"`
	// RemoteEndpoint is where the server last saw the client's packets from.
	RemoteEndpoint string `json:"remote_endpoint,omitempty"`

	// Replicas are the server's live replicas when it runs several (absent
	// otherwise), the one that answered first. Every replica carries every
	// peer: a client may add each as a WireGuard peer (same key, same
	// address) and move its routes to another when the one it uses stops
	// answering. A client that ignores them uses ServerPublicKey and
	// Endpoint, which are the answering replica's.
	Replicas []Replica `json:"replicas,omitempty"`
}

// Replica is one server replica a client can reach.
type Replica struct {
	// Name identifies the replica (its pod), for logs and status.
	Name string `json:"name"`
	// PublicKey is its WireGuard public key, standard base64; it changes
	// when the replica restarts.
	PublicKey string `json:"public_key"`
	// Endpoint is its public WireGuard UDP endpoint, host:port.
	Endpoint string `json:"endpoint"`
}

// PeerSummary is one row of GET /v1/peers (admin role only).
type PeerSummary struct {
	PublicKey       string     `json:"public_key"`
	User            string     `json:"user"`
	DisplayName     string     `json:"display_name,omitempty"`
	DeviceName      string     `json:"device_name,omitempty"`
	Address         string     `json:"address"`
	RemoteEndpoint  string     `json:"remote_endpoint,omitempty"`
	CreatedAt       time.Time  `json:"created_at"`
	ExpiresAt       time.Time  `json:"expires_at"`
	LatestHandshake *time.Time `json:"latest_handshake,omitempty"`
	RxBytes         int64      `json:"rx_bytes"`
	TxBytes         int64      `json:"tx_bytes"`
}

// PeerList is the answer to GET /v1/peers.
type PeerList struct {
	Peers []PeerSummary `json:"peers"`
}

// RemovedPeers is the answer to DELETE /v1/peers?user=<user> (admin role
// only): the peers removed, none when the user had none.
type RemovedPeers struct {
	// User is the user as asked for.
	User    string        `json:"user"`
	Removed []PeerSummary `json:"removed"`
}

// Error is the body of every non-2xx answer. Message is written for a person and
// says what to do next.
type Error struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// Error codes. Clients branch on Code, never on Message.
const (
	CodeBadRequest    = "bad_request"      // 400: malformed body, key, or field
	CodeUnauthorized  = "unauthorized"     // 401: missing, invalid or expired token: sign in again
	CodeForbidden     = "forbidden"        // 403: valid token, not allowed (role/group)
	CodeNotFound      = "not_found"        // 404: no such peer (or not yours)
	CodeConflict      = "key_conflict"     // 409: key registered by another user
	CodeTooManyPeers  = "too_many_devices" // 429: per-user device cap reached
	CodePoolExhausted = "pool_exhausted"   // 503: no free address
	CodeUnavailable   = "unavailable"      // 503: server not ready
	CodeInternal      = "internal"         // 500
	// CodeRateLimited: 429, the user created new peers too fast (each one
	// holds an address for a while after it goes); retry after Retry-After.
	CodeRateLimited = "rate_limited"
)
