package osevents

import "strings"

// The portable half of the macOS network watcher: which routing-socket
// messages mean "the network changed". osevents_darwin.go reads and parses
// the messages; this decides, and is tested on every OS.

// BSD routing message types and route flags (the values of macOS).
const (
	rtmAdd     = 0x1
	rtmDelete  = 0x2
	rtmChange  = 0x3
	rtmNewAddr = 0xc
	rtmDelAddr = 0xd
	rtmIfInfo  = 0xe
	rtmIfInfo2 = 0x12

	rtfHost      = 0x4
	rtfLLInfo    = 0x400
	rtfWasCloned = 0x20000
	rtfIfScope   = 0x1000000
)

// rtEvent is one routing message, reduced to what the decision needs.
type rtEvent struct {
	Type  int
	Flags int    // route flags (route messages)
	PID   int    // who sent it (route messages; 0 for the kernel)
	Iface string // the interface's name ("" when unknown)
}

// quietLinks are interfaces whose changes never concern a tunnel: Apple's
// peer-to-peer Wi-Fi (awdl, llw), IPsec and tunnels of the OS (ipsec, gif,
// stf), USB and debugging links (XHC, anpi), loopback.
var quietLinks = []string{"llw", "awdl", "ipsec", "gif", "stf", "XHC", "anpi", "lo"}

func quietLink(name string) bool {
	for _, p := range quietLinks {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}

// verdict is what to do with one message.
type verdict int

const (
	skip    verdict = iota
	changed         // the network changed
	recheck         // a utun not known to be ours (yet): ask again shortly
)

// classify decides about one message. self is our pid: routes we write
// ourselves (the pinned route to the server) are not news. ignore reports
// the daemon's own interfaces.
func classify(ev rtEvent, self int, ignore func(string) bool) verdict {
	switch ev.Type {
	case rtmAdd, rtmDelete, rtmChange:
		if ev.PID == self && self != 0 {
			return skip
		}
		// Neighbour entries (ARP/ND) come and go all the time; scoped
		// routes follow an unscoped change that is reported anyway.
		if ev.Flags&(rtfWasCloned|rtfLLInfo) != 0 || ev.Flags&rtfIfScope != 0 {
			return skip
		}
	case rtmNewAddr, rtmDelAddr, rtmIfInfo, rtmIfInfo2:
	default:
		return skip // queries, misses, redirects, multicast
	}
	switch {
	case ev.Iface == "":
		return changed // an interface that is already gone
	case quietLink(ev.Iface), ignore(ev.Iface):
		return skip
	case strings.HasPrefix(ev.Iface, "utun"):
		// Another VPN's utun matters (it may take the default route), but
		// ours is reported before the tunnel has said it is ours.
		return recheck
	}
	return changed
}
