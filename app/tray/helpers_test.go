package tray

import (
	"context"
	"net"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/ghostwire/ghostwire/app/localapi"
)

// serveDaemon serves be on sock; the returned func stops it the way a dying
// daemon does: the socket goes away and open streams are cut.
func serveDaemon(t *testing.T, sock string, be localapi.Backend) func() {
	t.Helper()
	_ = os.Remove(sock)
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	tl := &trackingListener{Listener: l}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = localapi.Serve(ctx, tl, be, nil)
	}()
	var once sync.Once
	return func() {
		once.Do(func() {
			cancel()
			tl.closeAll()
			<-done
			_ = os.Remove(sock)
		})
	}
}

type trackingListener struct {
	net.Listener
	mu    sync.Mutex
	conns []net.Conn
}

func (l *trackingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.mu.Lock()
		l.conns = append(l.conns, c)
		l.mu.Unlock()
	}
	return c, err
}

func (l *trackingListener) closeAll() {
	l.Listener.Close()
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, c := range l.conns {
		c.Close()
	}
}

func eventually(t *testing.T, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	var last string
	for time.Now().Before(deadline) {
		ok, state := cond()
		if ok {
			return
		}
		last = state
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s; last seen: %s", what, last)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
