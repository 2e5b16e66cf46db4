package osevents

import (
	"context"
	"errors"
	"fmt"

	"github.com/godbus/dbus/v5"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

func start(ctx context.Context, opt Options, wake, netChange func()) error {
	var errs []error
	if err := watchLogind(ctx, opt, wake); err != nil {
		errs = append(errs, fmt.Errorf("sleep/wake signals from logind are not available (%w); sleep is still noticed by the clock", err))
	}
	if err := watchNetlink(ctx, opt, netChange); err != nil {
		errs = append(errs, fmt.Errorf("network change signals are not available: %w", err))
	}
	return errors.Join(errs...)
}

// watchLogind listens for logind's PrepareForSleep(false): the machine resumed.
func watchLogind(ctx context.Context, opt Options, wake func()) error {
	var conn *dbus.Conn
	var err error
	if opt.BusAddress == "" {
		conn, err = dbus.ConnectSystemBus()
	} else {
		conn, err = dbus.Connect(opt.BusAddress)
	}
	if err != nil {
		return err
	}
	if err := conn.AddMatchSignal(
		dbus.WithMatchInterface("org.freedesktop.login1.Manager"),
		dbus.WithMatchMember("PrepareForSleep"),
		dbus.WithMatchObjectPath("/org/freedesktop/login1"),
	); err != nil {
		conn.Close()
		return err
	}
	ch := make(chan *dbus.Signal, 8)
	conn.Signal(ch)
	go func() {
		defer conn.Close()
		for {
			select {
			case <-ctx.Done():
				return
			case s, ok := <-ch:
				if !ok {
					return
				}
				if isResume(s) {
					opt.Log.Info("the machine resumed from sleep")
					wake()
				}
			}
		}
	}()
	return nil
}

// isResume: PrepareForSleep(true) is sent before sleep, (false) after resume.
func isResume(s *dbus.Signal) bool {
	if s == nil || s.Name != "org.freedesktop.login1.Manager.PrepareForSleep" || len(s.Body) != 1 {
		return false
	}
	going, ok := s.Body[0].(bool)
	return ok && !going
}

// watchNetlink subscribes to link and route changes.
func watchNetlink(ctx context.Context, opt Options, netChange func()) error {
	done := make(chan struct{})
	go func() { <-ctx.Done(); close(done) }()
	var ns *netns.NsHandle
	h := &netlink.Handle{}
	if opt.NetnsPath != "" {
		n, err := netns.GetFromPath(opt.NetnsPath)
		if err != nil {
			return err
		}
		ns = &n
		if h, err = netlink.NewHandleAt(n); err != nil {
			n.Close()
			return err
		}
		go func() { <-ctx.Done(); h.Close(); n.Close() }()
	}
	links := make(chan netlink.LinkUpdate, 64)
	if err := netlink.LinkSubscribeWithOptions(links, done, netlink.LinkSubscribeOptions{Namespace: ns}); err != nil {
		return err
	}
	routes := make(chan netlink.RouteUpdate, 64)
	if err := netlink.RouteSubscribeWithOptions(routes, done, netlink.RouteSubscribeOptions{Namespace: ns}); err != nil {
		return err
	}
	names := map[int]string{}
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case u, ok := <-links:
				if !ok {
					return
				}
				name := u.Attrs().Name
				names[u.Attrs().Index] = name
				if !opt.Ignore(name) {
					opt.Log.Debug("network change", "link", name, "index", u.Attrs().Index)
					netChange()
				}
			case u, ok := <-routes:
				if !ok {
					return
				}
				name, known := names[u.LinkIndex]
				if !known {
					if l, err := h.LinkByIndex(u.LinkIndex); err == nil {
						name = l.Attrs().Name
						names[u.LinkIndex] = name
					}
				}
				if !opt.Ignore(name) {
					opt.Log.Debug("network change", "route", u.Dst, "link", name, "type", u.Type)
					netChange()
				}
			}
		}
	}()
	return nil
}
