//go:build linux

package helper

import (
	"context"
	"errors"
	"flag"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// serveTCPLB is the cluster's ingress in front of several server replicas'
// APIs, as a cloud load balancer or an ingress controller is: TCP (TLS passes
// through to the replicas), round robin over the backends that accept
// connections, checked every 200 ms, and a connection whose backend refuses
// it tried on the next one.
func serveTCPLB(args []string) error {
	fs := flag.NewFlagSet("tcplb", flag.ContinueOnError)
	listen := fs.String("listen", "", "ip:port to listen on")
	backends := fs.String("backends", "", "comma-separated ip:port of the replicas")
	if err := fs.Parse(args); err != nil {
		return err
	}
	bs := strings.Split(*backends, ",")
	if *listen == "" || len(bs) == 0 || bs[0] == "" {
		return errors.New("tcplb needs --listen and --backends")
	}
	up := make([]atomic.Bool, len(bs))
	for i := range up {
		up[i].Store(true)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	for i, b := range bs {
		go func() {
			for ctx.Err() == nil {
				c, err := net.DialTimeout("tcp", b, 300*time.Millisecond)
				if err == nil {
					c.Close()
				}
				if was := up[i].Swap(err == nil); was != (err == nil) {
					slog.Info("backend health changed", "backend", b, "up", err == nil)
				}
				time.Sleep(200 * time.Millisecond)
			}
		}()
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	slog.Info("listening", "addr", ln.Addr().String(), "backends", bs)
	go func() { waitSignal(); ln.Close() }()
	var next atomic.Uint64
	for {
		c, err := ln.Accept()
		if err != nil {
			return nil
		}
		go func() {
			defer c.Close()
			start := int(next.Add(1))
			for k := 0; k < len(bs); k++ {
				i := (start + k) % len(bs)
				if !up[i].Load() {
					continue
				}
				b, err := net.DialTimeout("tcp", bs[i], time.Second)
				if err != nil {
					up[i].Store(false)
					continue
				}
				defer b.Close()
				var wg sync.WaitGroup
				wg.Add(1)
				go func() { defer wg.Done(); _, _ = io.Copy(b, c); b.(*net.TCPConn).CloseWrite() }()
				_, _ = io.Copy(c, b)
				c.(*net.TCPConn).CloseWrite()
				wg.Wait()
				return
			}
			slog.Warn("no backend up for a connection", "from", c.RemoteAddr().String())
		}()
	}
}
