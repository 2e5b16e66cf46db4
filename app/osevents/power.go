package osevents

import "time"

// macOS power notifications (IOKit/IOMessage.h), as IORegisterForSystemPower
// delivers them. Portable so that the state machine is tested everywhere.
const (
	msgCanSystemSleep     = 0xe0000270 // idle sleep is about to start; may be vetoed
	msgSystemWillSleep    = 0xe0000280 // sleep is coming; cannot be vetoed
	msgSystemWillNotSleep = 0xe0000290 // the idle sleep announced was cancelled
	msgSystemHasPoweredOn = 0xe0000300 // the machine is awake again
	msgSystemWillPowerOn  = 0xe0000320 // waking up; devices not ready yet
)

// powerAction is what one notification asks of the watcher.
type powerAction struct {
	// ack: call IOAllowPowerChange now. macOS waits up to 30 s for every
	// registered client to acknowledge a sleep notice before sleeping.
	ack bool
	// wake: tell the engines the machine resumed (check the tunnel).
	wake bool
	// slept is how long the machine was asleep (0 when no sleep was seen).
	slept time.Duration
}

// powerTracker turns the notification sequence into wakes: one per resume,
// with how long the machine slept. A resume with no sleep seen before it
// (the daemon started during the sleep) still counts: checking the tunnel
// costs one handshake. A second "powered on" right after the first (IOKit
// repeats it on some Macs) does not count again.
type powerTracker struct {
	now       func() time.Time
	asleep    bool
	since     time.Time
	lastWake  time.Time
	dedupeFor time.Duration
}

func newPowerTracker(now func() time.Time) *powerTracker {
	return &powerTracker{now: now, dedupeFor: 5 * time.Second}
}

func (p *powerTracker) handle(msg uint32) powerAction {
	now := p.now()
	switch msg {
	case msgCanSystemSleep:
		return powerAction{ack: true} // never veto idle sleep
	case msgSystemWillSleep:
		p.asleep, p.since = true, now
		return powerAction{ack: true}
	case msgSystemWillNotSleep:
		p.asleep = false
	case msgSystemHasPoweredOn:
		a := powerAction{wake: true}
		if p.asleep {
			a.slept = now.Sub(p.since)
		} else if !p.lastWake.IsZero() && now.Sub(p.lastWake) < p.dedupeFor {
			return powerAction{}
		}
		p.asleep, p.lastWake = false, now
		return a
	}
	return powerAction{}
}
