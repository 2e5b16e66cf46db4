package tunnel

import (
	"context"
	"fmt"
	"log/slog"
)

// DefaultJournalDir is where tunnels journal their changes unless told.
const DefaultJournalDir = "/var/lib/ghostwire/journal"

// osDNSKinds are journal kinds of this OS's own DNS mechanism (none beyond
// resolved and resolv.conf on Linux).
var osDNSKinds []string

// osEntryString reads this OS's own journal kinds: Linux has none.
func osEntryString(entry) (string, bool) { return "", false }

// osRecover, run by Recover, sweeps what no journal covers: nothing on Linux.
func osRecover(*slog.Logger) error { return nil }

// autoDNSMode: systemd-resolved when it owns its D-Bus name, else the stub
// forwarder behind a managed resolv.conf.
func autoDNSMode(cfg Config, log *slog.Logger) DNSMode {
	if ok, err := resolvedRunning(cfg.DBusAddress); ok {
		return DNSResolved
	} else if err != nil {
		log.Debug("systemd-resolved not reachable", "err", err)
	}
	return DNSStub
}

func (t *Tunnel) applyOSDNS(_ context.Context, _ Config, mode DNSMode, _ domains) error {
	return fmt.Errorf("DNS mode %q is not available on Linux: use resolved, stub or resolvconf", mode)
}

func undoOSEntry(entry, *slog.Logger) (handled bool, err error) { return false, nil }
