package tunnel

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/godbus/dbus/v5"
)

// systemd-resolved's D-Bus API (org.freedesktop.resolve1(5)).
const (
	resolvedName  = "org.freedesktop.resolve1"
	resolvedPath  = dbus.ObjectPath("/org/freedesktop/resolve1")
	resolvedIface = "org.freedesktop.resolve1.Manager"
)

// resolvedDNS and resolvedDomain are the D-Bus structs (iay) and (sb).
type resolvedDNS struct {
	Family  int32
	Address []byte
}

type resolvedDomain struct {
	Domain      string
	RoutingOnly bool
}

// dialBus connects to addr ("" = the system bus) and authenticates.
func dialBus(addr string) (*dbus.Conn, error) {
	if addr == "" {
		return dbus.ConnectSystemBus()
	}
	return dbus.Connect(addr)
}

// resolvedRunning reports whether systemd-resolved owns its name on the bus.
func resolvedRunning(busAddr string) (bool, error) {
	c, err := dialBus(busAddr)
	if err != nil {
		return false, err
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	var has bool
	if err := c.BusObject().CallWithContext(ctx, "org.freedesktop.DBus.NameHasOwner", 0, resolvedName).Store(&has); err != nil {
		return false, err
	}
	return has, nil
}

// setResolved gives the link its DNS servers, search domains (plain entries,
// used for short names and routing) and match domains (routing-only ~entries),
// and takes it out of the default route so that every other name keeps
// going where it went before: real split DNS.
func setResolved(ctx context.Context, j *journal, busAddr, link string, index int, servers []netip.Addr, d domains) error {
	c, err := dialBus(busAddr)
	if err != nil {
		return fmt.Errorf("cannot reach systemd-resolved over D-Bus: %w", err)
	}
	defer c.Close()
	if err := j.record(entry{Kind: kindResolved, Link: link, Index: index, Bus: busAddr}); err != nil {
		return err
	}
	var dns []resolvedDNS
	for _, a := range servers {
		a = a.Unmap()
		fam := int32(2) // AF_INET
		if a.Is6() {
			fam = 10 // AF_INET6
		}
		dns = append(dns, resolvedDNS{fam, a.AsSlice()})
	}
	var doms []resolvedDomain
	for _, s := range d.search {
		doms = append(doms, resolvedDomain{s, false})
	}
	for _, m := range d.match {
		doms = append(doms, resolvedDomain{m, true})
	}
	o := c.Object(resolvedName, resolvedPath)
	for _, call := range []struct {
		method string
		args   []any
	}{
		{"SetLinkDNS", []any{int32(index), dns}},
		{"SetLinkDomains", []any{int32(index), doms}},
		{"SetLinkDefaultRoute", []any{int32(index), false}},
	} {
		if err := o.CallWithContext(ctx, resolvedIface+"."+call.method, 0, call.args...).Err; err != nil {
			return fmt.Errorf("systemd-resolved refused %s for %s: %w", call.method, link, err)
		}
	}
	return nil
}

// revertResolved drops everything set on the link. A link resolved does not
// know any more (the interface is gone) needs nothing.
func revertResolved(e entry) error {
	if idx, err := linkIndexByName(e.Link); err != nil || idx != e.Index {
		return nil // gone, or the index now belongs to another interface
	}
	c, err := dialBus(e.Bus)
	if err != nil {
		return fmt.Errorf("cannot reach systemd-resolved over D-Bus: %w", err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err = c.Object(resolvedName, resolvedPath).CallWithContext(ctx, resolvedIface+".RevertLink", 0, int32(e.Index)).Err
	if err != nil && (strings.Contains(err.Error(), "not known") || strings.Contains(err.Error(), "NoSuchLink")) {
		return nil
	}
	return err
}
