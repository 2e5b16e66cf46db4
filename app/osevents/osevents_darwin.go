package osevents

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"time"

	"golang.org/x/net/route"
	"golang.org/x/sys/unix"
)

// macOS: resume from IOKit (power_darwin.go), network changes from the
// routing socket. Both feed the engines as on Linux; the engines' own
// wall-clock check still catches a sleep either misses.
func start(ctx context.Context, opt Options, wake, netChange func()) error {
	var errs []error
	if err := watchPower(ctx, func(slept time.Duration) {
		opt.Log.Info("the machine resumed from sleep", "slept", slept.Round(time.Second))
		wake()
	}); err != nil {
		errs = append(errs, fmt.Errorf("sleep/wake signals from IOKit are not available (%w); sleep is still noticed by the clock", err))
	}
	if err := watchRoutes(ctx, opt, netChange); err != nil {
		errs = append(errs, fmt.Errorf("network change signals are not available: %w", err))
	}
	return errors.Join(errs...)
}

// watchRoutes reads the routing socket: every change of routes, addresses
// and links the kernel announces.
func watchRoutes(ctx context.Context, opt Options, netChange func()) error {
	fd, err := unix.Socket(unix.AF_ROUTE, unix.SOCK_RAW, unix.AF_UNSPEC)
	if err != nil {
		return fmt.Errorf("cannot open the routing socket: %w", err)
	}
	// Our own writes on other sockets still arrive; this only drops the
	// echo of writes on this one (there are none).
	_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_USELOOPBACK, 0)
	f := os.NewFile(uintptr(fd), "route")
	go func() { <-ctx.Done(); f.Close() }()
	names := newIfNames()
	self := os.Getpid()
	go func() {
		buf := make([]byte, 64<<10)
		for {
			n, err := f.Read(buf)
			if err != nil {
				if ctx.Err() == nil {
					opt.Log.Warn("the routing socket stopped; network changes are no longer noticed (sleep still is)", "err", err)
				}
				return
			}
			for _, ev := range routeEvents(buf[:n], names) {
				switch classify(ev, self, opt.Ignore) {
				case changed:
					opt.Log.Debug("network change", "type", ev.Type, "interface", ev.Iface)
					netChange()
				case recheck:
					// A utun we are creating says so only once it exists.
					name := ev.Iface
					time.AfterFunc(500*time.Millisecond, func() {
						if ctx.Err() == nil && !opt.Ignore(name) {
							opt.Log.Debug("network change", "type", ev.Type, "interface", name)
							netChange()
						}
					})
				}
			}
		}
	}()
	return nil
}

// routeEvents parses one read of the routing socket. A malformed message
// is dropped, never a crash: route.ParseRIB has panicked before (tailscale
// #14201), so it runs under recover.
func routeEvents(b []byte, names *ifNames) (evs []rtEvent) {
	defer func() {
		if recover() != nil {
			evs = nil
		}
	}()
	msgs, err := route.ParseRIB(route.RIBTypeRoute, b)
	if err != nil {
		return nil
	}
	for _, m := range msgs {
		switch m := m.(type) {
		case *route.RouteMessage:
			evs = append(evs, rtEvent{Type: m.Type, Flags: m.Flags, PID: int(m.ID), Iface: names.name(m.Index)})
		case *route.InterfaceMessage:
			name := m.Name
			if name == "" {
				name = names.refresh(m.Index)
			}
			evs = append(evs, rtEvent{Type: m.Type, Iface: name})
		case *route.InterfaceAddrMessage:
			evs = append(evs, rtEvent{Type: m.Type, Iface: names.name(m.Index)})
		}
	}
	return evs
}

// ifNames maps interface indexes to names, remembering the names of
// interfaces that are gone (their last messages arrive after they went).
type ifNames struct {
	mu sync.Mutex
	m  map[int]string
}

func newIfNames() *ifNames {
	n := &ifNames{m: map[int]string{}}
	if ifs, err := net.Interfaces(); err == nil {
		for _, i := range ifs {
			n.m[i.Index] = i.Name
		}
	}
	return n
}

func (n *ifNames) name(index int) string {
	if index <= 0 {
		return ""
	}
	n.mu.Lock()
	name, ok := n.m[index]
	n.mu.Unlock()
	if ok {
		return name
	}
	return n.refresh(index)
}

// refresh looks index up again: an interface message says it appeared or
// changed, and indexes of gone interfaces are reused.
func (n *ifNames) refresh(index int) string {
	if index <= 0 {
		return ""
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if i, err := net.InterfaceByIndex(index); err == nil {
		n.m[index] = i.Name
		return i.Name
	}
	return n.m[index]
}
