//go:build linux

package topo

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/http"
	"runtime"
	"time"

	"github.com/vishvananda/netns"
)

// DialContext opens a connection from inside n: the socket is created on a
// locked OS thread switched into n, and keeps n's network stack after the thread
// switches back. This lets the test process itself talk to addresses that exist
// only inside our namespaces (approving a sign-in, calling the API).
func (n *NS) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	type result struct {
		c   net.Conn
		err error
	}
	ch := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			runtime.UnlockOSThread()
			ch <- result{err: fmt.Errorf("read current namespace: %w", err)}
			return
		}
		defer orig.Close()
		target, err := netns.GetFromName(n.Name)
		if err != nil {
			runtime.UnlockOSThread()
			ch <- result{err: fmt.Errorf("open namespace %s: %w", n.Name, err)}
			return
		}
		defer target.Close()
		if err := netns.Set(target); err != nil {
			runtime.UnlockOSThread()
			ch <- result{err: fmt.Errorf("enter namespace %s: %w", n.Name, err)}
			return
		}
		var d net.Dialer
		c, derr := d.DialContext(ctx, network, addr)
		if err := netns.Set(orig); err != nil {
			// The thread is stuck in the wrong namespace: leave it locked so
			// the runtime discards it when this goroutine ends.
			ch <- result{c, derr}
			return
		}
		runtime.UnlockOSThread()
		ch <- result{c, derr}
	}()
	r := <-ch
	return r.c, r.err
}

// HTTPClient returns an HTTP client whose connections start inside n and that
// trusts roots (nil: the system roots). Keep-alives are off so that every
// request makes a fresh connection (a reconnect test must not ride an old one).
func (n *NS) HTTPClient(roots *x509.CertPool, timeout time.Duration) *http.Client {
	tr := &http.Transport{
		DialContext:       n.DialContext,
		TLSClientConfig:   &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12},
		DisableKeepAlives: true,
		Proxy:             nil,
	}
	return &http.Client{Transport: tr, Timeout: timeout}
}
