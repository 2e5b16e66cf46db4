package localapi

import "time"

// State is where one profile's connection is.
type State string

// States of a profile's connection. The engine owns the transitions; front ends
// only show them.
const (
	StateDisconnected State = "disconnected"
	StateSigningIn    State = "signing-in"
	StateRegistering  State = "registering"
	StateConnected    State = "connected"
	// StateReconnecting: was connected, packets stopped or the peer is gone;
	// the daemon is restoring it without the person doing anything.
	StateReconnecting State = "reconnecting"
	// StateNeedsSignIn: silent renewal was refused; a person must sign in again.
	StateNeedsSignIn State = "needs-sign-in"
	StateError       State = "error"
)

// SignInPrompt is what a person needs to finish signing in. Exactly one of
// BrowserURL (interactive sign-in, redirect to the daemon's loopback listener) or
// VerificationURI+UserCode (device code) is set.
type SignInPrompt struct {
	BrowserURL              string    `json:"browser_url,omitempty"`
	VerificationURI         string    `json:"verification_uri,omitempty"`
	VerificationURIComplete string    `json:"verification_uri_complete,omitempty"`
	UserCode                string    `json:"user_code,omitempty"`
	ExpiresAt               time.Time `json:"expires_at,omitempty"`
	// Seq changes each time a new prompt is issued, so a front end opens the
	// browser once per prompt and not on every status update.
	Seq uint64 `json:"seq"`
}

// Profile is one configured cluster and its live connection.
type Profile struct {
	Name   string `json:"name"`
	Server string `json:"server"`
	State  State  `json:"state"`
	// Reason says, for a person, why the profile is in State (error text,
	// "server restarted, registering again", ...).
	Reason string `json:"reason,omitempty"`
	// ErrorCode is one of the Code* error codes when State is error or
	// needs-sign-in, so front ends can tell why without parsing Reason.
	ErrorCode string `json:"error_code,omitempty"`
	// User is the signed-in identity's display name (e-mail/UPN), for display only.
	User          string        `json:"user,omitempty"`
	Interface     string        `json:"interface,omitempty"`
	Address       string        `json:"address,omitempty"`
	Endpoint      string        `json:"endpoint,omitempty"`
	Routes        []string      `json:"routes,omitempty"`
	DNSServers    []string      `json:"dns_servers,omitempty"`
	SearchDomains []string      `json:"search_domains,omitempty"`
	MatchDomains  []string      `json:"match_domains,omitempty"`
	SignIn        *SignInPrompt `json:"sign_in,omitempty"`

	LatestHandshake *time.Time `json:"latest_handshake,omitempty"`
	RxBytes         int64      `json:"rx_bytes,omitempty"`
	TxBytes         int64      `json:"tx_bytes,omitempty"`
	ConnectedSince  *time.Time `json:"connected_since,omitempty"`
	// ExpiresAt is when the server ends this peer; the daemon renews before it
	// while the sign-in session lasts.
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
	// SessionExpiresAt is when the sign-in itself ends (refresh no longer
	// possible) and the person will have to sign in again.
	SessionExpiresAt *time.Time `json:"session_expires_at,omitempty"`
}

// Status is the daemon's whole state. Seq increases with every change.
type Status struct {
	DaemonVersion string    `json:"daemon_version"`
	Seq           uint64    `json:"seq"`
	Profiles      []Profile `json:"profiles"`
}

// Profile returns the named profile, if present.
func (s Status) Profile(name string) (Profile, bool) {
	for _, p := range s.Profiles {
		if p.Name == name {
			return p, true
		}
	}
	return Profile{}, false
}

// UpRequest asks the daemon to connect a profile, creating it when Server is given.
type UpRequest struct {
	// Profile names the connection; empty means the default profile (or the only one).
	Profile string `json:"profile,omitempty"`
	// Server is the server's base URL (https://vpn.example.com). Required when the
	// profile does not exist yet; replaces the stored one when given.
	Server string `json:"server,omitempty"`
	// CAPEM is the PEM text of a private CA to trust for this server in
	// addition to the system roots (certificates only; see CheckCAPEM).
	// The front end reads the file as the person running it: the daemon,
	// which runs as root, never opens a path a caller names. Never a switch
	// to skip verification.
	CAPEM string `json:"ca_pem,omitempty"`
	// DeviceCode forces the device-code flow instead of interactive browser sign-in.
	DeviceCode bool `json:"device_code,omitempty"`
}

// ProfileRequest names the profile for down, login, logout and extend.
type ProfileRequest struct {
	Profile string `json:"profile,omitempty"`
	// All applies the call to every profile (down --all).
	All bool `json:"all,omitempty"`
	// DeviceCode forces the device-code flow for login.
	DeviceCode bool `json:"device_code,omitempty"`
}
