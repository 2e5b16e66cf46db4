package engine

import (
	"context"
	"sync"
	"sync/atomic"
)

// holds lets a test hold calls of one kind back ("config", "register",
// "peer", "delete", "token", "up", "reconfigure"), as a silent server or a
// slow system would, and counts the calls of the fakes still in flight.
// Like the real ports, a held call ends when its context does.
type holds struct {
	mu       sync.Mutex
	gates    map[string]*gate
	inflight atomic.Int64
}

type gate struct {
	entered chan struct{} // one (non-blocking) send per call that starts waiting
	release chan struct{}
	once    sync.Once
	// answerOnCancel: a held call whose context ends still answers, as an
	// answer that crossed the cancellation on the wire does.
	answerOnCancel bool
}

// hold holds every later call of kind until the gate opens.
func (h *holds) hold(kind string, answerOnCancel bool) *gate {
	g := &gate{entered: make(chan struct{}, 64), release: make(chan struct{}), answerOnCancel: answerOnCancel}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.gates == nil {
		h.gates = map[string]*gate{}
	}
	h.gates[kind] = g
	return g
}

func (g *gate) open() { g.once.Do(func() { close(g.release) }) }

// at starts a call of kind: it counts it in flight (the returned func ends
// it) and waits while kind is held. cancelled reports that ctx ended first
// and the call must fail with it.
func (h *holds) at(ctx context.Context, kind string) (end func(), err error) {
	h.inflight.Add(1)
	end = func() { h.inflight.Add(-1) }
	h.mu.Lock()
	g := h.gates[kind]
	h.mu.Unlock()
	if g == nil {
		return end, nil
	}
	select {
	case g.entered <- struct{}{}:
	default:
	}
	select {
	case <-g.release:
		return end, nil
	case <-ctx.Done():
		if g.answerOnCancel {
			return end, nil
		}
		return end, ctx.Err()
	}
}
