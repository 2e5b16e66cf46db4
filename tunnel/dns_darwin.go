package tunnel

import (
	"context"
	"log/slog"
)

// DefaultJournalDir is where tunnels journal their changes unless told.
const DefaultJournalDir = "/Library/Application Support/ghostwire/journal"

// osDNSKinds are journal kinds of this OS's own DNS mechanism.
var osDNSKinds []string

func autoDNSMode(Config, *slog.Logger) DNSMode { return DNSOff }

func (t *Tunnel) applyOSDNS(context.Context, Config, DNSMode, domains) error { return errNotSupported }

func undoOSEntry(entry, *slog.Logger) (handled bool, err error) { return false, nil }
