package localapi

import "sync"

// Broadcaster hands the latest Status to any number of subscribers. A slow
// subscriber never blocks Publish: it just sees the newest Status when it reads.
// Backends embed it to implement Subscribe.
type Broadcaster struct {
	mu   sync.Mutex
	subs map[chan Status]struct{}
}

// Publish sends s to every subscriber, replacing anything not yet read.
func (b *Broadcaster) Publish(s Status) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for ch := range b.subs {
		select {
		case <-ch: // drop the stale one
		default:
		}
		ch <- s // capacity 1 and we hold the only sender: never blocks
	}
}

// Subscribe returns a channel of Status updates and a func that ends the
// subscription and closes the channel.
func (b *Broadcaster) Subscribe() (<-chan Status, func()) {
	ch := make(chan Status, 1)
	b.mu.Lock()
	if b.subs == nil {
		b.subs = make(map[chan Status]struct{})
	}
	b.subs[ch] = struct{}{}
	b.mu.Unlock()
	var once sync.Once
	return ch, func() {
		once.Do(func() {
			b.mu.Lock()
			delete(b.subs, ch)
			b.mu.Unlock()
			close(ch)
		})
	}
}
