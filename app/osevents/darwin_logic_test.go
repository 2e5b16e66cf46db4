package osevents

import (
	"testing"
	"time"
)

// fakeClock is the injected clock of the power state machine.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time          { return c.t }
func (c *fakeClock) advance(d time.Duration) { c.t = c.t.Add(d) }

func TestPowerTracker(t *testing.T) {
	c := &fakeClock{t: time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC)}
	p := newPowerTracker(c.now)
	step := func(msg uint32, want powerAction) {
		t.Helper()
		if got := p.handle(msg); got != want {
			t.Fatalf("message %#x: %+v, want %+v", msg, got, want)
		}
	}
	// Idle sleep announced, then cancelled: acknowledged, no wake.
	step(msgCanSystemSleep, powerAction{ack: true})
	step(msgSystemWillNotSleep, powerAction{})
	// A real sleep of 40 minutes: acknowledged at once, one wake after.
	step(msgSystemWillSleep, powerAction{ack: true})
	c.advance(40 * time.Minute)
	step(msgSystemWillPowerOn, powerAction{})
	step(msgSystemHasPoweredOn, powerAction{wake: true, slept: 40 * time.Minute})
	// IOKit repeats "powered on": not a second wake.
	c.advance(time.Second)
	step(msgSystemHasPoweredOn, powerAction{})
	// Powered on with no sleep seen (the daemon started while asleep), later.
	c.advance(time.Minute)
	step(msgSystemHasPoweredOn, powerAction{wake: true})
	// Two short sleeps in a row each give their wake.
	step(msgSystemWillSleep, powerAction{ack: true})
	c.advance(2 * time.Second)
	step(msgSystemHasPoweredOn, powerAction{wake: true, slept: 2 * time.Second})
	step(msgSystemWillSleep, powerAction{ack: true})
	c.advance(3 * time.Second)
	step(msgSystemHasPoweredOn, powerAction{wake: true, slept: 3 * time.Second})
	// Unknown messages do nothing.
	step(0xe0000999, powerAction{})
}

func TestClassifyRouteMessages(t *testing.T) {
	const self = 4242
	ours := func(name string) bool { return name == "utun7" }
	for _, tc := range []struct {
		name string
		ev   rtEvent
		want verdict
	}{
		{"new default route on Wi-Fi", rtEvent{Type: rtmAdd, Flags: 0x803, Iface: "en0"}, changed},
		{"default route deleted", rtEvent{Type: rtmDelete, Flags: 0x803, Iface: "en0"}, changed},
		{"our own pinned route", rtEvent{Type: rtmAdd, Flags: 0x4807, PID: self, Iface: "en0"}, skip},
		{"an ARP entry", rtEvent{Type: rtmAdd, Flags: rtfHost | rtfLLInfo | rtfWasCloned, Iface: "en0"}, skip},
		{"a scoped default", rtEvent{Type: rtmAdd, Flags: 0x1000803, Iface: "en7"}, skip},
		{"Wi-Fi got an address", rtEvent{Type: rtmNewAddr, Iface: "en0"}, changed},
		{"Ethernet unplugged", rtEvent{Type: rtmIfInfo, Iface: "en7"}, changed},
		{"AirDrop", rtEvent{Type: rtmIfInfo, Iface: "awdl0"}, skip},
		{"low-latency WLAN", rtEvent{Type: rtmNewAddr, Iface: "llw0"}, skip},
		{"loopback", rtEvent{Type: rtmAdd, Iface: "lo0"}, skip},
		{"USB debug link", rtEvent{Type: rtmIfInfo, Iface: "anpi1"}, skip},
		{"our tunnel", rtEvent{Type: rtmAdd, Iface: "utun7"}, skip},
		{"another VPN's utun", rtEvent{Type: rtmAdd, Iface: "utun3"}, recheck},
		{"an interface already gone", rtEvent{Type: rtmDelete, Iface: ""}, changed},
		{"a route lookup", rtEvent{Type: 0x4, Iface: "en0"}, skip},
		{"a miss", rtEvent{Type: 0x7, Iface: "en0"}, skip},
		{"multicast membership", rtEvent{Type: 0xf, Iface: "en0"}, skip},
	} {
		if got := classify(tc.ev, self, ours); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}
