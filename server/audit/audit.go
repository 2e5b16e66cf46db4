// Package audit writes one structured line for every decision the server
// makes about a peer: allowed, denied, removed. Lines carry the user's stable
// subject and display name, the peer's public key (public by nature), its
// address and the reason; never a token.
package audit

import (
	"context"
	"log/slog"
)

// Logger writes audit lines (msg "audit") through slog.
type Logger struct{ l *slog.Logger }

// New returns a Logger writing through l (slog.Default() when nil).
func New(l *slog.Logger) *Logger {
	if l == nil {
		l = slog.Default()
	}
	return &Logger{l: l.With("log", "audit")}
}

// Event is one audit line. Empty fields are left out.
type Event struct {
	// Decision is "allow", "deny" or "remove".
	Decision string
	// Action is what was asked or done: register, rotate, get, delete,
	// admin_delete, deny_list, list, sweep, shutdown.
	Action string
	// Subject and Name are who asked (or whose peer it is when nobody asked).
	Subject string
	Name    string
	// Owner and OwnerName are whose peer an admin removed (Subject is the admin).
	Owner     string
	OwnerName string
	Key       string
	Address   string
	Remote    string
	Reason    string
	Status    int
}

// Log writes e.
func (a *Logger) Log(ctx context.Context, e Event) {
	attrs := make([]slog.Attr, 0, 12)
	attrs = append(attrs, slog.String("decision", e.Decision), slog.String("action", e.Action))
	add := func(k, v string) {
		if v != "" {
			attrs = append(attrs, slog.String(k, v))
		}
	}
	add("user", e.Subject)
	add("user_name", e.Name)
	add("owner", e.Owner)
	add("owner_name", e.OwnerName)
	add("key", e.Key)
	add("address", e.Address)
	add("remote", e.Remote)
	add("reason", e.Reason)
	if e.Status != 0 {
		attrs = append(attrs, slog.Int("status", e.Status))
	}
	level := slog.LevelInfo
	if e.Decision == "deny" {
		level = slog.LevelWarn
	}
	a.l.LogAttrs(ctx, level, "audit", attrs...)
}
