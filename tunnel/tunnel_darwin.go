package tunnel

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os/exec"
	"strings"
	"syscall"
	"time"

	"golang.zx2c4.com/wireguard/tun"
)

// macOS: the interface is a utun the kernel numbers itself; addresses, MTU
// and link state are set with ifconfig, routes through the routing socket
// (routesock_darwin.go). See doc.go for why.

const ifconfigPath = "/sbin/ifconfig"

// utunName is the name wireguard-go is asked for: "utun" lets the kernel
// pick a free unit; a config that names a unit (utun7) gets that one.
func utunName(requested string) string {
	if strings.HasPrefix(requested, "utun") {
		return requested
	}
	return "utun"
}

// createTUN opens a utun. A utun that was just closed (the previous
// connection of this profile) can report "resource busy" for a moment
// (NetBird #2130): retry for about a second.
func createTUN(name string, mtu int) (tun.Device, error) {
	var last error
	delay := 20 * time.Millisecond
	deadline := time.Now().Add(time.Second)
	for {
		dev, err := tun.CreateTUN(utunName(name), mtu)
		if err == nil {
			if real, nerr := dev.Name(); nerr == nil {
				ownInterface(real)
				return ownedTUN{dev, real}, nil
			}
			return dev, nil
		}
		last = err
		if !isBusy(err) || time.Now().After(deadline) {
			break
		}
		time.Sleep(delay)
		delay = min(2*delay, 200*time.Millisecond)
	}
	if isBusy(last) {
		return nil, fmt.Errorf("the utun interface stayed busy for a second (another VPN just closed it?); try again: %w", last)
	}
	return nil, last
}

func isBusy(err error) bool {
	return errors.Is(err, syscall.EBUSY) || errors.Is(err, syscall.EADDRINUSE) ||
		(err != nil && strings.Contains(err.Error(), "busy"))
}

// ownedTUN forgets the utun's name as ours when it closes (the kernel
// destroys a utun when its control socket closes).
type ownedTUN struct {
	tun.Device
	name string
}

func (t ownedTUN) Close() error {
	err := t.Device.Close()
	disownInterface(t.name)
	return err
}

func linkIndexByName(name string) (int, error) {
	i, err := net.InterfaceByName(name)
	if err != nil {
		return 0, err
	}
	return i.Index, nil
}

// darwinOps is netOps on macOS.
type darwinOps struct{}

func newNetOps() (netOps, error) { return darwinOps{}, nil }

func (darwinOps) linkIndex(name string) (int, error) { return linkIndexByName(name) }

// ifconfig runs /sbin/ifconfig; its message says what went wrong.
func ifconfig(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, ifconfigPath, args...).CombinedOutput()
	msg := strings.TrimSpace(string(out))
	if err != nil {
		return msg, fmt.Errorf("ifconfig %s: %v: %s", strings.Join(args, " "), err, msg)
	}
	return msg, nil
}

// ifconfigGone reports ifconfig's answers for an interface or address that
// is not there (the undo is then done).
func ifconfigGone(msg string) bool {
	return strings.Contains(msg, "does not exist") || strings.Contains(msg, "Can't assign requested address") ||
		strings.Contains(msg, "not found")
}

func (darwinOps) linkUp(name string, mtu int) error {
	_, err := ifconfig(name, "mtu", fmt.Sprint(mtu), "up")
	return err
}

// addrArgs is the ifconfig command line for p on a point-to-point utun:
// IPv4 needs a destination, which is the address itself (as wg-quick and
// tailscaled do).
func addrArgs(link string, p netip.Prefix, del bool) []string {
	if p.Addr().Is4() {
		if del {
			return []string{link, "inet", p.Addr().String(), "-alias"}
		}
		return []string{link, "inet", p.String(), p.Addr().String(), "alias"}
	}
	if del {
		return []string{link, "inet6", p.Addr().String(), "-alias"}
	}
	return []string{link, "inet6", p.String(), "alias"}
}

// addAddr sets the address. On a point-to-point utun the kernel routes
// only the address itself; the rest of its prefix (a /10 pool, say) gets a
// route through the utun as on Linux.
func (darwinOps) addAddr(link string, p netip.Prefix) error {
	if _, err := ifconfig(addrArgs(link, p, false)...); err != nil {
		return err
	}
	if p.IsSingleIP() {
		return nil
	}
	idx, err := linkIndexByName(link)
	if err != nil {
		return err
	}
	err = rtWrite(rtmAdd, p.Masked(), netip.Addr{}, idx, link, rtfUp|rtfStatic|rtfOurs)
	if errors.Is(err, syscall.EEXIST) {
		return nil
	}
	return err
}

func (darwinOps) delAddr(link string, p netip.Prefix) error {
	idx, err := linkIndexByName(link)
	if err != nil {
		return nil // gone with its utun
	}
	if !p.IsSingleIP() {
		if err := rtDeleteOurs(p.Masked(), idx); err != nil {
			return err
		}
	}
	msg, err := ifconfig(addrArgs(link, p, true)...)
	if err != nil && ifconfigGone(msg) {
		return nil
	}
	return err
}

func (darwinOps) addRoute(link string, p netip.Prefix) error {
	idx, err := linkIndexByName(link)
	if err != nil {
		return err
	}
	err = rtWrite(rtmAdd, p, netip.Addr{}, idx, link, rtfUp|rtfStatic|rtfOurs)
	if errors.Is(err, syscall.EEXIST) {
		return routeHolder(p, idx)
	}
	return err
}

// routeHolder explains an existing route for exactly p: ours already (fine),
// the network of one of this machine's interfaces (the Wi-Fi's subnet), or
// another program's route.
func routeHolder(p netip.Prefix, ours int) error {
	table, links, err := ribSnapshot(p.Addr().Is6())
	if err != nil {
		return errExists
	}
	for _, r := range table {
		if r.Dst != p || r.Flags&rtfIfScope != 0 {
			continue
		}
		if r.Index == ours {
			return nil
		}
		name := links[r.Index].Name
		if r.Flags&rtfGateway == 0 && r.Flags&rtfOurs == 0 {
			return routeHeld(fmt.Sprintf("%s is the network of %s on this Mac (your Wi-Fi or LAN): the cluster's range and your local network must differ; ask the admin, or connect from another network", p, name))
		}
		return routeHeld(fmt.Sprintf("%s is already routed through %s (another VPN?): disconnect it and try again", p, name))
	}
	return errExists
}

func (darwinOps) delRoute(link string, p netip.Prefix) error {
	idx, err := linkIndexByName(link)
	if err != nil {
		return nil // the kernel removed the routes with the utun
	}
	return rtDeleteOurs(p, idx)
}

// pathTo asks the kernel (RTM_GET); when the answer is our own utun (a
// re-pin while the tunnel's routes exist), it chooses from a dump of the
// table without it.
func (darwinOps) pathTo(dst netip.Addr, exclude string) (netip.Addr, string, bool, error) {
	r, name, err := rtGet(dst)
	if err != nil {
		return netip.Addr{}, "", false, err
	}
	if name != exclude {
		gw, dev, ok := nextHop(r, linkState{Name: name, Up: true})
		return gw, dev, ok, nil
	}
	table, links, err := ribSnapshot(dst.Is6())
	if err != nil {
		return netip.Addr{}, "", false, err
	}
	best, l, err := chooseRoute(dst, table, links, exclude)
	if err != nil {
		return netip.Addr{}, "", false, err
	}
	gw, dev, ok := nextHop(best, l)
	return gw, dev, ok, nil
}

func (darwinOps) addHostRoute(dst netip.Prefix, gw netip.Addr, dev string) error {
	idx, err := linkIndexByName(dev)
	if err != nil {
		return err
	}
	flags := rtfUp | rtfHost | rtfStatic | rtfOurs
	if gw.IsValid() {
		flags |= rtfGateway
	}
	err = rtWrite(rtmAdd, dst, gw, idx, dev, flags)
	if errors.Is(err, syscall.EEXIST) {
		return errExists
	}
	return err
}

func (darwinOps) delHostRoute(dst netip.Prefix, gw netip.Addr, dev string) error {
	idx, err := linkIndexByName(dev)
	if err != nil {
		return nil // the interface went, and its routes with it
	}
	return rtDeleteOurs(dst, idx)
}

// delLink has nothing to do on macOS: a utun exists only while its
// control socket is open, so it went with the device (or with the crashed
// process). A utun of that name now is someone else's.
func (darwinOps) delLink(string) error { return nil }

// localNets lists the networks of this Mac's other interfaces that are up,
// for the overlap warning.
func (darwinOps) localNets(exclude string) []netip.Prefix {
	ifs, err := net.Interfaces()
	if err != nil {
		return nil
	}
	var out []netip.Prefix
	for _, i := range ifs {
		if i.Flags&net.FlagUp == 0 || i.Flags&net.FlagLoopback != 0 || i.Name == exclude || ignoredLink(i.Name) {
			continue
		}
		as, _ := i.Addrs()
		for _, a := range as {
			if n, ok := a.(*net.IPNet); ok {
				if p, ok := prefixOf(n); ok && !p.Addr().IsLinkLocalUnicast() {
					out = append(out, p.Masked())
				}
			}
		}
	}
	return out
}

func prefixOf(n *net.IPNet) (netip.Prefix, bool) {
	a, ok := netip.AddrFromSlice(n.IP)
	if !ok {
		return netip.Prefix{}, false
	}
	bits, _ := n.Mask.Size()
	return netip.PrefixFrom(a.Unmap(), bits), true
}

// ignoredLink: interfaces that are never the way to a cluster (Apple's
// peer-to-peer Wi-Fi, tunnels of the OS, USB debugging links).
func ignoredLink(name string) bool {
	for _, p := range []string{"llw", "awdl", "anpi", "gif", "stf", "XHC"} {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}
