package tunnel

import (
	"errors"
	"fmt"
	"net"
	"net/netip"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
	"golang.zx2c4.com/wireguard/tun"
)

func createTUN(name string, mtu int) (tun.Device, error) { return tun.CreateTUN(name, mtu) }

func linkIndexByName(name string) (int, error) {
	l, err := netlink.LinkByName(name)
	if err != nil {
		return 0, err
	}
	return l.Attrs().Index, nil
}

// netlinkOps is netOps over rtnetlink (vishvananda/netlink), in the network
// namespace of the calling thread.
type netlinkOps struct{}

func newNetOps() (netOps, error) { return netlinkOps{}, nil }

func isNotFound(err error) bool {
	var lnf netlink.LinkNotFoundError
	return errors.As(err, &lnf) || errors.Is(err, unix.ENODEV) || errors.Is(err, unix.ESRCH) ||
		errors.Is(err, unix.EADDRNOTAVAIL) || errors.Is(err, unix.ENOENT)
}

func addErr(err error) error {
	if errors.Is(err, unix.EEXIST) {
		return errExists
	}
	return err
}

func ipNet(p netip.Prefix) *net.IPNet {
	return &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}
}

func (netlinkOps) linkIndex(name string) (int, error) { return linkIndexByName(name) }

func (netlinkOps) linkUp(name string, mtu int) error {
	l, err := netlink.LinkByName(name)
	if err != nil {
		return err
	}
	if err := netlink.LinkSetMTU(l, mtu); err != nil {
		return err
	}
	return netlink.LinkSetUp(l)
}

func (netlinkOps) addAddr(link string, p netip.Prefix) error {
	l, err := netlink.LinkByName(link)
	if err != nil {
		return err
	}
	return addErr(netlink.AddrAdd(l, &netlink.Addr{IPNet: ipNet(p)}))
}

func (netlinkOps) delAddr(link string, p netip.Prefix) error {
	l, err := netlink.LinkByName(link)
	if err != nil {
		if isNotFound(err) {
			return nil
		}
		return err
	}
	if err := netlink.AddrDel(l, &netlink.Addr{IPNet: ipNet(p)}); err != nil && !isNotFound(err) {
		return err
	}
	return nil
}

// addRoute adds a route through link; one that is already there through
// link is fine, through another interface it is errExists.
func (netlinkOps) addRoute(link string, p netip.Prefix) error {
	l, err := netlink.LinkByName(link)
	if err != nil {
		return err
	}
	r := &netlink.Route{LinkIndex: l.Attrs().Index, Dst: ipNet(p), Scope: netlink.SCOPE_LINK}
	err = netlink.RouteAdd(r)
	if errors.Is(err, unix.EEXIST) {
		fam := netlink.FAMILY_V4
		if p.Addr().Is6() {
			fam = netlink.FAMILY_V6
		}
		have, lerr := netlink.RouteListFiltered(fam, r, netlink.RT_FILTER_DST|netlink.RT_FILTER_OIF)
		if lerr == nil && len(have) > 0 {
			return nil
		}
	}
	return addErr(err)
}

func (netlinkOps) delRoute(link string, p netip.Prefix) error {
	l, err := netlink.LinkByName(link)
	if err != nil {
		if isNotFound(err) {
			return nil // the kernel removed the routes with the interface
		}
		return err
	}
	err = netlink.RouteDel(&netlink.Route{LinkIndex: l.Attrs().Index, Dst: ipNet(p), Scope: netlink.SCOPE_LINK})
	if err != nil && !isNotFound(err) {
		return err
	}
	return nil
}

// pathTo asks the kernel how dst is reached; when the answer is our own
// interface (a re-pin while the tunnel's routes exist), it takes the longest
// matching route of the main table through any other interface.
func (netlinkOps) pathTo(dst netip.Addr, exclude string) (netip.Addr, string, bool, error) {
	rs, err := netlink.RouteGet(dst.AsSlice())
	if err != nil {
		return netip.Addr{}, "", false, err
	}
	if len(rs) == 0 {
		return netip.Addr{}, "", false, fmt.Errorf("no route to %s", dst)
	}
	if rs[0].Type == unix.RTN_LOCAL {
		return netip.Addr{}, "", false, nil
	}
	l, err := netlink.LinkByIndex(rs[0].LinkIndex)
	if err != nil {
		return netip.Addr{}, "", false, err
	}
	if l.Attrs().Name != exclude {
		gw, _ := netip.AddrFromSlice(rs[0].Gw)
		return gw.Unmap(), l.Attrs().Name, true, nil
	}
	fam := netlink.FAMILY_V4
	if dst.Is6() {
		fam = netlink.FAMILY_V6
	}
	all, err := netlink.RouteListFiltered(fam, &netlink.Route{Table: unix.RT_TABLE_MAIN}, netlink.RT_FILTER_TABLE)
	if err != nil {
		return netip.Addr{}, "", false, err
	}
	var best *netlink.Route
	bestBits := -1
	for i := range all {
		r := &all[i]
		if r.LinkIndex == l.Attrs().Index || r.LinkIndex == 0 {
			continue
		}
		bits := 0
		if r.Dst != nil {
			p, ok := prefixOf(r.Dst)
			if !ok || !p.Contains(dst) {
				continue
			}
			bits = p.Bits()
		}
		if bits > bestBits || (bits == bestBits && r.Priority < best.Priority) {
			best, bestBits = r, bits
		}
	}
	if best == nil {
		return netip.Addr{}, "", false, fmt.Errorf("no route to %s outside the tunnel", dst)
	}
	bl, err := netlink.LinkByIndex(best.LinkIndex)
	if err != nil {
		return netip.Addr{}, "", false, err
	}
	gw, _ := netip.AddrFromSlice(best.Gw)
	return gw.Unmap(), bl.Attrs().Name, true, nil
}

func prefixOf(n *net.IPNet) (netip.Prefix, bool) {
	a, ok := netip.AddrFromSlice(n.IP)
	if !ok {
		return netip.Prefix{}, false
	}
	bits, _ := n.Mask.Size()
	return netip.PrefixFrom(a.Unmap(), bits), true
}

func hostRoute(dst netip.Prefix, gw netip.Addr, dev string) (*netlink.Route, error) {
	l, err := netlink.LinkByName(dev)
	if err != nil {
		return nil, err
	}
	r := &netlink.Route{LinkIndex: l.Attrs().Index, Dst: ipNet(dst)}
	if gw.IsValid() {
		r.Gw = gw.AsSlice()
	} else {
		r.Scope = netlink.SCOPE_LINK
	}
	return r, nil
}

func (netlinkOps) addHostRoute(dst netip.Prefix, gw netip.Addr, dev string) error {
	r, err := hostRoute(dst, gw, dev)
	if err != nil {
		return err
	}
	return addErr(netlink.RouteAdd(r))
}

func (netlinkOps) delHostRoute(dst netip.Prefix, gw netip.Addr, dev string) error {
	r, err := hostRoute(dst, gw, dev)
	if err != nil {
		if isNotFound(err) {
			return nil
		}
		return err
	}
	if err := netlink.RouteDel(r); err != nil && !isNotFound(err) {
		return err
	}
	return nil
}

// delLink removes a TUN interface by name; any other kind of interface of
// that name is someone else's and stays.
func (netlinkOps) delLink(name string) error {
	l, err := netlink.LinkByName(name)
	if err != nil {
		if isNotFound(err) {
			return nil
		}
		return err
	}
	if l.Type() != "tuntap" {
		return nil
	}
	if err := netlink.LinkDel(l); err != nil && !isNotFound(err) {
		return err
	}
	return nil
}
