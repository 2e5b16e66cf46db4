package verify

import (
	"fmt"
	"time"
)

// Identity is who a verified token belongs to.
type Identity struct {
	// Subject is the stable, unique key for the user: issuer + tid + oid for
	// Entra, issuer + sub otherwise. Never an e-mail address.
	Subject string
	Issuer  string
	// TenantID and ObjectID are set when the user is identified by Entra's
	// rule (tid + oid, Config.TenantID set); empty for any other provider,
	// whatever claims the token carries.
	TenantID string
	ObjectID string
	// Name is for display and audit only (preferred_username, upn, email or
	// name); it is mutable and never used to decide anything.
	Name   string
	Roles  []string
	Groups []string
	// Admin is true when the token carries one of the configured admin roles
	// or groups.
	Admin bool
}

// Error is a refused token. Status is 401 (sign in again), 403 (signed in,
// not allowed) or 503 (the token could not be checked now: try again);
// Message is for the person and says what to do.
type Error struct {
	Status  int
	Code    string
	Message string
	// Reason is the precise technical cause, for the audit log only.
	Reason string
	// Scope is the missing scope of an insufficient_scope refusal (RFC 6750).
	Scope string
	// RetryAfter, for 503, is when trying again may help.
	RetryAfter time.Duration
}

func (e *Error) Error() string {
	if e.Reason != "" {
		return fmt.Sprintf("%s (%s)", e.Message, e.Reason)
	}
	return e.Message
}
