package engine

// The engine remembers the public key of its last registration that may
// still be on the server, and names it in `replaces` when it registers
// again: the server hands that peer's address to the new key and does not
// count it against the device cap. A daemon killed before it could say
// goodbye thus costs nothing at the next sign-in, however often it
// happens. A public key is not a secret; Config.OnLastPeer keeps it across
// restarts. Only the run goroutine (or Down, after it ended) touches last.

// forget drops pub once the server no longer has it (removed, or never
// kept).
func (e *Engine) forget(pub string) {
	if e.last == pub {
		e.setLast("")
	}
}

// peerGone: the server said it has no peer with the current key.
func (e *Engine) peerGone() {
	if e.key != nil {
		e.forget(e.key.PublicKey().String())
	}
}

// setLast records pub as the last registration ("": none).
func (e *Engine) setLast(pub string) {
	if e.last == pub {
		return
	}
	e.last = pub
	if e.c.OnLastPeer != nil {
		e.c.OnLastPeer(pub)
	}
}
