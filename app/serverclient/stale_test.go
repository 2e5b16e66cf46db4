package serverclient

import (
	"context"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/ghostwire/ghostwire/app/engine"
	"github.com/ghostwire/ghostwire/server/api"
)

// blackhole is a TCP relay in front of a server whose connections can be
// made to go silent, as the laptop's connections do when its address
// changes: bytes are taken and nothing comes back, and no error is seen.
type blackhole struct {
	ln      net.Listener
	target  string
	accepts atomic.Int32
	mu      sync.Mutex
	conns   []*relayed
}

type relayed struct{ dead atomic.Bool }

func newBlackhole(t *testing.T, target string) *blackhole {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := &blackhole{ln: ln, target: target}
	t.Cleanup(func() { ln.Close() })
	go b.serve()
	return b
}

func (b *blackhole) serve() {
	for {
		c, err := b.ln.Accept()
		if err != nil {
			return
		}
		b.accepts.Add(1)
		s, err := net.Dial("tcp", b.target)
		if err != nil {
			c.Close()
			continue
		}
		r := &relayed{}
		b.mu.Lock()
		b.conns = append(b.conns, r)
		b.mu.Unlock()
		pipe := func(dst, src net.Conn) {
			buf := make([]byte, 32<<10)
			for {
				n, err := src.Read(buf)
				if err != nil {
					dst.Close()
					return
				}
				if r.dead.Load() {
					continue // swallowed: the path is gone
				}
				if _, err := dst.Write(buf[:n]); err != nil {
					src.Close()
					return
				}
			}
		}
		go pipe(s, c)
		go pipe(c, s)
	}
}

// silence makes every connection open now go silent.
func (b *blackhole) silence() {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, r := range b.conns {
		r.dead.Store(true)
	}
}

func peerServer(t *testing.T) *httptest.Server {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/peers/{key}", func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(api.Peer{PublicKey: r.PathValue("key"), Address: "100.83.0.9/32"})
	})
	srv := httptest.NewUnstartedServer(mux)
	srv.EnableHTTP2 = true
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv
}

// A request on a pooled connection that died (the address it came from is
// gone) is sent again on a new connection after staleAfter, instead of
// waiting for the client's 20 s timeout; over HTTP/2 as the server speaks it.
func TestDeadPooledConnectionIsLeft(t *testing.T) {
	srv := peerServer(t)
	bh := newBlackhole(t, srv.Listener.Addr().String())
	c, err := New("https://"+bh.ln.Addr().String(), caOf(srv))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := c.Peer(ctx, "tok", "k1"); err != nil {
		t.Fatal(err)
	}
	bh.silence()
	start := time.Now()
	p, err := c.Peer(ctx, "tok", "k2")
	took := time.Since(start)
	if err != nil || p.PublicKey != "k2" {
		t.Fatalf("after the connection died: %+v %v", p, err)
	}
	if took > staleAfter+5*time.Second || bh.accepts.Load() != 2 {
		t.Fatalf("answered after %s on %d connections; want a new connection after about %s", took, bh.accepts.Load(), staleAfter)
	}
	t.Logf("answered %s after the pooled connection died", took.Round(time.Millisecond))
}

// After CloseIdleConnections (the daemon calls it at every network change
// and wake) the next request dials afresh and does not wait at all.
func TestCloseIdleConnectionsDialsAfresh(t *testing.T) {
	srv := peerServer(t)
	bh := newBlackhole(t, srv.Listener.Addr().String())
	c, err := New("https://"+bh.ln.Addr().String(), caOf(srv))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := c.Peer(ctx, "tok", "k1"); err != nil {
		t.Fatal(err)
	}
	bh.silence()
	c.CloseIdleConnections()
	ctx, cancel := context.WithTimeout(ctx, staleAfter) // no stale wait may be needed
	defer cancel()
	if _, err := c.Peer(ctx, "tok", "k2"); err != nil || bh.accepts.Load() != 2 {
		t.Fatalf("after CloseIdleConnections: %v, %d connections", err, bh.accepts.Load())
	}
}

// The device cap is its own kind, with a message that says what works; a
// server's message is shown cleaned and bounded.
func TestAnswersAreMappedAndBounded(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/peers", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusTooManyRequests)
		_ = json.NewEncoder(w).Encode(api.Error{Code: api.CodeTooManyPeers, Message: "you already have the maximum number of devices connected"})
	})
	mux.HandleFunc("GET /v1/peers/{key}", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusBadRequest)
		_ = json.NewEncoder(w).Encode(api.Error{Code: api.CodeBadRequest, Message: "\x1b[2J" + strings.Repeat("blah ", 20000)})
	})
	mux.HandleFunc("GET /v1/config", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusBadGateway)
		_, _ = io.WriteString(w, "<html>\x1b]0;pwned\x07"+strings.Repeat("<p>", 5000))
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	c, err := New(srv.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	_, err = c.Register(ctx, "tok", api.RegisterRequest{PublicKey: "k"})
	if !errors.Is(err, engine.ErrDeviceCap) || !strings.Contains(err.Error(), "ghostwire down` on one of your other devices") {
		t.Fatalf("device cap: %v", err)
	}
	for _, call := range []func() error{
		func() error { _, err := c.Peer(ctx, "tok", "k"); return err },
		func() error { _, err := c.Config(ctx); return err },
	} {
		msg := call().Error()
		if n := utf8.RuneCountInString(msg); n > maxMessage+200 || strings.ContainsAny(msg, "\x1b\x07") {
			t.Errorf("a server's text must be cleaned and bounded: %d characters: %.120q", n, msg)
		}
	}
}

func caOf(srv *httptest.Server) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
}
