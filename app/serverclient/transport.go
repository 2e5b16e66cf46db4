package serverclient

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"net/http/httptrace"
	"sync"
	"time"
)

// How long a connection to the server may keep a request waiting. A laptop
// changes address (another Wi-Fi, a dock, a wake) while its pooled
// connections still name the old one: nothing answers on them and nothing
// tells the client. Every wait is bounded, and the daemon also closes the
// idle connections at every network change and wake (CloseIdleConnections).
const (
	dialTimeout           = 10 * time.Second
	tlsHandshakeTimeout   = 10 * time.Second
	responseHeaderTimeout = 15 * time.Second
	// idleConnTimeout outlives the engine's peer check (30 s), so the check
	// reuses one connection instead of a TLS handshake each time.
	idleConnTimeout = 60 * time.Second
	// An HTTP/2 connection on which nothing was heard for pingAfter gets a
	// PING; unanswered within pingTimeout it is closed (with its requests).
	pingAfter   = 15 * time.Second
	pingTimeout = 5 * time.Second
	// writeTimeout closes a connection that cannot write for this long.
	writeTimeout = 10 * time.Second
	// staleAfter: a request sent on a reused connection that has no answer
	// within this is taken to ride a dead connection, and sent again on a
	// new one (see Client.send). An answer on a live connection takes one
	// round trip and the server's ~1 ms.
	staleAfter = 2 * time.Second
)

// NewTransport returns the HTTP transport for a ghostwire server or its
// identity provider: the system roots plus the certificates in caPEM
// (optional), TLS 1.2 at least, and the bounds above. No proxy: set one
// yourself where it is wanted.
func NewTransport(caPEM []byte) (*http.Transport, error) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	if len(caPEM) > 0 {
		pool, err := CertPool(caPEM)
		if err != nil {
			return nil, err
		}
		tr.TLSClientConfig.RootCAs = pool
	}
	tr.Proxy = nil
	d := &net.Dialer{Timeout: dialTimeout, KeepAliveConfig: net.KeepAliveConfig{
		Enable: true, Idle: 15 * time.Second, Interval: 5 * time.Second, Count: 3}}
	tr.DialContext = d.DialContext
	tr.TLSHandshakeTimeout = tlsHandshakeTimeout
	tr.ResponseHeaderTimeout = responseHeaderTimeout
	tr.IdleConnTimeout = idleConnTimeout
	tr.ForceAttemptHTTP2 = true
	tr.HTTP2 = &http.HTTP2Config{SendPingTimeout: pingAfter, PingTimeout: pingTimeout, WriteByteTimeout: writeTimeout}
	return tr, nil
}

// staleWatch notices a request that went out on a reused connection and
// got no answer within staleAfter: it closes that connection, which ends
// the request (and any other waiting on the same connection) at once.
type staleWatch struct {
	mu       sync.Mutex
	conn     net.Conn // the reused connection the request went out on
	answered bool
	stale    bool
	timer    *time.Timer
}

// trace arms the watch on ctx's request.
func (w *staleWatch) trace(ctx context.Context) context.Context {
	return httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		GotConn: func(i httptrace.GotConnInfo) {
			w.mu.Lock()
			defer w.mu.Unlock()
			if w.timer != nil { // the transport moved the request to another connection
				w.timer.Stop()
				w.timer, w.conn = nil, nil
			}
			if i.Reused {
				w.conn = i.Conn
				w.timer = time.AfterFunc(staleAfter, w.fire)
			}
		},
		GotFirstResponseByte: func() {
			w.mu.Lock()
			defer w.mu.Unlock()
			w.answered = true
		},
	})
}

func (w *staleWatch) fire() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.answered || w.conn == nil {
		return
	}
	w.stale = true
	// The TCP connection under TLS: closing it cannot wait on a TLS
	// write to a peer that is gone.
	c := w.conn
	if tc, ok := c.(*tls.Conn); ok {
		c = tc.NetConn()
	}
	_ = c.Close()
}

// done stops the watch and reports whether it found the connection dead.
func (w *staleWatch) done() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.timer != nil {
		w.timer.Stop()
	}
	w.answered = true
	return w.stale
}
