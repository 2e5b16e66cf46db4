package verify

import "fmt"

// Identity is who a verified token belongs to.
type Identity struct {
	// Subject is the stable, unique key for the user: issuer + tid + oid for
	// Entra, issuer + sub otherwise. Never an e-mail address.
	Subject string
	Issuer  string
	// TenantID and ObjectID are set for Entra tokens.
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

// Error is a refused token. Status is 401 (sign in again) or 403 (signed in,
// not allowed); Message is for the person and says what to do.
type Error struct {
	Status  int
	Code    string
	Message string
	// Reason is the precise technical cause, for the audit log only.
	Reason string
}

func (e *Error) Error() string {
	if e.Reason != "" {
		return fmt.Sprintf("%s (%s)", e.Message, e.Reason)
	}
	return e.Message
}
