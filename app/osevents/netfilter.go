package osevents

import (
	"sync"
	"time"
)

// Which Windows IP Helper notifications count as a network change. Windows
// sends a steady trickle that does not: address lifetimes refreshed by
// DHCP, metrics recomputed, our own tunnels' rows. This is portable so that
// the filter is tested on Linux; osevents_windows.go feeds it.

// noteKind is the IP Helper callback a notification came from.
type noteKind int

const (
	noteRoute noteKind = iota + 1
	noteAddress
	noteInterface
)

// noteChange is the MIB notification type.
type noteChange int

const (
	changeParameter noteChange = iota // MibParameterNotification
	changeAdd                         // MibAddInstance
	changeDelete                      // MibDeleteInstance
	changeInitial                     // MibInitialNotification
)

// netNote is one notification, reduced to what the filter needs.
type netNote struct {
	kind   noteKind
	change noteChange
	iface  string // the interface's name (alias); "" when it could not be read
	// defaultRoute: a route notification for a /0.
	defaultRoute bool
	// connected: an interface notification's connected state (for parameter changes).
	connected bool
	ifaceKey  uint64 // the interface's LUID
}

// noteFilter remembers interfaces' connected state between notifications.
type noteFilter struct {
	ignore    func(string) bool
	mu        sync.Mutex
	connected map[uint64]bool
}

func newNoteFilter(ignore func(string) bool) *noteFilter {
	return &noteFilter{ignore: ignore, connected: map[uint64]bool{}}
}

// counts decides whether n is a network change the engine should hear:
//   - nothing on our own interfaces (tunnels coming up and down, their routes);
//   - routes added or removed, and a default route's metric changing (the
//     way out may now be another interface);
//   - addresses added or removed (a lifetime refresh is a parameter change);
//   - interfaces appearing, disappearing, or connecting and disconnecting.
func (f *noteFilter) counts(n netNote) bool {
	if n.change == changeInitial || (n.iface != "" && f.ignore(n.iface)) {
		return false
	}
	switch n.kind {
	case noteRoute:
		return n.change != changeParameter || n.defaultRoute
	case noteAddress:
		return n.change != changeParameter
	case noteInterface:
		f.mu.Lock()
		defer f.mu.Unlock()
		was, known := f.connected[n.ifaceKey]
		switch n.change {
		case changeDelete:
			delete(f.connected, n.ifaceKey)
			return true
		case changeAdd:
			f.connected[n.ifaceKey] = n.connected
			return true
		}
		f.connected[n.ifaceKey] = n.connected
		return known && was != n.connected
	}
	return false
}

// wakeDedup merges the resume notifications Windows sends for one wake
// (PBT_APMRESUMEAUTOMATIC, then PBT_APMRESUMESUSPEND when a person is
// there; the service manager's power event besides) into one.
type wakeDedup struct {
	mu     sync.Mutex
	last   time.Time
	window time.Duration
	now    func() time.Time
}

func (w *wakeDedup) first() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	t := w.now()
	if !w.last.IsZero() && t.Sub(w.last) < w.window {
		return false
	}
	w.last = t
	return true
}
