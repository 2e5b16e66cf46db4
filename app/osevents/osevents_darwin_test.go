package osevents

import (
	"testing"

	"golang.org/x/net/route"
	"golang.org/x/sys/unix"
)

// The live route table parses into events with interface names, and the
// classification of a dump's messages never fails on a real Mac.
func TestRouteEventsFromTheLiveTable(t *testing.T) {
	b, err := route.FetchRIB(unix.AF_UNSPEC, route.RIBTypeRoute, 0)
	if err != nil {
		t.Fatal(err)
	}
	evs := routeEvents(b, newIfNames())
	if len(evs) == 0 {
		t.Fatal("no events parsed from the live route table")
	}
	named := 0
	for _, ev := range evs {
		if ev.Iface != "" {
			named++
		}
		_ = classify(ev, 1, func(string) bool { return false })
	}
	if named == 0 {
		t.Errorf("no route of the live table has an interface name: %+v", evs[:min(5, len(evs))])
	}
}

// Whatever the routing socket delivers, the parser returns (recover
// around route.ParseRIB): the daemon never dies of a malformed message.
func FuzzRouteEvents(f *testing.F) {
	if b, err := route.FetchRIB(unix.AF_UNSPEC, route.RIBTypeRoute, 0); err == nil && len(b) > 0 {
		f.Add(b[:min(len(b), 4096)])
	}
	f.Add([]byte{0x5c, 0, 5, 1})
	f.Add([]byte{8, 0, 5, 0xe, 0, 0, 0, 0})
	names := newIfNames()
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, ev := range routeEvents(b, names) {
			_ = classify(ev, 1, func(string) bool { return false })
		}
	})
}
