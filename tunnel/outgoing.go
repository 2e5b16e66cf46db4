package tunnel

import (
	"sync/atomic"

	"golang.zx2c4.com/wireguard/tun"
)

// outgoing wraps the TUN device to say when a packet leaves through the
// tunnel after a quiet spell, so the daemon can sleep while nothing is sent
// instead of reading the counters five times a second (a laptop's battery
// pays for every wake-up). Armed, the first batch read from the TUN sends
// one signal; the cost on the data path is one atomic load per batch.
type outgoing struct {
	tun.Device
	armed atomic.Bool
	ch    chan struct{}
}

func newOutgoing(d tun.Device) *outgoing {
	return &outgoing{Device: d, ch: make(chan struct{}, 1)}
}

// Read is the device's Read, signalling the first batch after arm.
func (o *outgoing) Read(bufs [][]byte, sizes []int, offset int) (int, error) {
	n, err := o.Device.Read(bufs, sizes, offset)
	if n > 0 && o.armed.Load() && o.armed.CompareAndSwap(true, false) {
		select {
		case o.ch <- struct{}{}:
		default:
		}
	}
	return n, err
}

// arm returns a channel that receives once when the next packet goes out.
// A signal left from an earlier arm is dropped first, so a caller that
// stopped waiting is not woken by old news.
func (o *outgoing) arm() <-chan struct{} {
	select {
	case <-o.ch:
	default:
	}
	o.armed.Store(true)
	return o.ch
}
