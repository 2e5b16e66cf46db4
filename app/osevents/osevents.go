// Package osevents turns the OS's signals that a tunnel may be dead into
// engine events: resume from sleep and network changes. Each OS has its own
// file; where a source is not written yet it says so with an error, and the
// engine still notices sleep by the wall clock jumping against the monotonic
// clock.
package osevents

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/ghostwire/ghostwire/app/engine"
)

// Options tune Watch.
type Options struct {
	// Ignore reports interfaces whose changes are our own doing (the
	// tunnels' links and routes) and must not count as network changes.
	Ignore func(ifname string) bool
	// Debounce merges bursts of network changes (default 2 s): a Wi-Fi switch
	// is dozens of netlink messages.
	Debounce time.Duration
	Log      *slog.Logger
	// BusAddress is the D-Bus to hear logind on; "" means the system bus.
	BusAddress string
	// NetnsPath, when set, watches that network namespace instead of ours
	// (tests).
	NetnsPath string
	// Changed, when set, is called at once for every network change the
	// debounced event will report (not debounced, so keep it cheap): the
	// daemon drops its pooled connections there, before a request can
	// ride one whose address just went away.
	Changed func()
}

// Watch calls fn for every wake and (debounced) network change until ctx
// ends, and opt.Changed for every change as it happens. It returns at once
// with the sources that could not start (errors joined); the others keep
// running.
func Watch(ctx context.Context, opt Options, fn func(engine.Event)) error {
	if opt.Debounce <= 0 {
		opt.Debounce = 2 * time.Second
	}
	if opt.Log == nil {
		opt.Log = slog.Default()
	}
	if opt.Ignore == nil {
		opt.Ignore = func(string) bool { return false }
	}
	d := newDebouncer(ctx, opt.Debounce, func() { fn(engine.EventNetworkChange) })
	changed := d.poke
	if opt.Changed != nil {
		changed = func() { opt.Changed(); d.poke() }
	}
	return start(ctx, opt, func() { fn(engine.EventWake) }, changed)
}

// debouncer calls fn once after a quiet period following pokes.
type debouncer struct {
	mu    sync.Mutex
	t     *time.Timer
	delay time.Duration
	fn    func()
	ctx   context.Context
}

func newDebouncer(ctx context.Context, delay time.Duration, fn func()) *debouncer {
	return &debouncer{delay: delay, fn: fn, ctx: ctx}
}

func (d *debouncer) poke() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.ctx.Err() != nil {
		return
	}
	if d.t != nil {
		d.t.Stop()
	}
	d.t = time.AfterFunc(d.delay, func() {
		if d.ctx.Err() == nil {
			d.fn()
		}
	})
}
