package osevents

import (
	"strings"
	"testing"
	"time"
)

func TestNoteFilter(t *testing.T) {
	f := newNoteFilter(func(n string) bool { return strings.HasPrefix(n, "gw") })
	for _, tc := range []struct {
		name string
		n    netNote
		want bool
	}{
		{"Wi-Fi default route added", netNote{kind: noteRoute, change: changeAdd, iface: "Wi-Fi", defaultRoute: true}, true},
		{"a LAN route removed", netNote{kind: noteRoute, change: changeDelete, iface: "Ethernet"}, true},
		{"default route metric changed", netNote{kind: noteRoute, change: changeParameter, iface: "Wi-Fi", defaultRoute: true}, true},
		{"another route's parameters", netNote{kind: noteRoute, change: changeParameter, iface: "Wi-Fi"}, false},
		{"our tunnel's route", netNote{kind: noteRoute, change: changeAdd, iface: "gw0"}, false},
		{"our tunnel's address", netNote{kind: noteAddress, change: changeAdd, iface: "gw1"}, false},
		{"new DHCP address", netNote{kind: noteAddress, change: changeAdd, iface: "Wi-Fi"}, true},
		{"DHCP lease refreshed", netNote{kind: noteAddress, change: changeParameter, iface: "Wi-Fi"}, false},
		{"the initial notification", netNote{kind: noteRoute, change: changeInitial}, false},
		{"unnamed interface's address removed", netNote{kind: noteAddress, change: changeDelete}, true},
	} {
		if got := f.counts(tc.n); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
	// Interfaces: appearing, connecting and disconnecting count; the same
	// state reported again does not.
	wifi := func(c noteChange, connected bool) netNote {
		return netNote{kind: noteInterface, change: c, iface: "Wi-Fi", ifaceKey: 7, connected: connected}
	}
	for i, step := range []struct {
		n    netNote
		want bool
	}{
		{wifi(changeAdd, false), true},
		{wifi(changeParameter, false), false},
		{wifi(changeParameter, true), true}, // joined a network
		{wifi(changeParameter, true), false},
		{wifi(changeParameter, false), true}, // lost it
		{wifi(changeDelete, false), true},
		{wifi(changeParameter, true), false}, // unknown until seen: the next counts
		{wifi(changeParameter, false), true},
	} {
		if got := f.counts(step.n); got != step.want {
			t.Errorf("interface step %d: %v, want %v", i, got, step.want)
		}
	}
	if f.counts(netNote{kind: noteInterface, change: changeAdd, iface: "gw0", ifaceKey: 9}) {
		t.Error("our own adapter appearing is no network change")
	}
}

func TestWakeDedup(t *testing.T) {
	now := time.Unix(1000, 0)
	w := &wakeDedup{window: 10 * time.Second, now: func() time.Time { return now }}
	if !w.first() {
		t.Fatal("the first resume is a wake")
	}
	now = now.Add(2 * time.Second)
	if w.first() {
		t.Fatal("a second notification for the same wake counted")
	}
	now = now.Add(time.Hour)
	if !w.first() {
		t.Fatal("the next wake an hour later must count")
	}
}
