package tunnel

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"time"

	"golang.org/x/sys/windows"
	"golang.zx2c4.com/wireguard/ipc"
	"golang.zx2c4.com/wireguard/tun"
	"golang.zx2c4.com/wireguard/windows/tunnel/winipcfg"
)

// On Windows the TUN is a wintun adapter (wintun.dll beside the exe), with a
// GUID fixed per interface name (ids.go) so that Windows keeps one network
// profile for it. Addresses, routes, MTU and DNS go through the IP Helper
// API (winipcfg). An interface is ours when its GUID is adapterGUID of its
// own name: no other program can hold such an adapter by accident.

// The adapter's description in Network Connections reads "Ghostwire
// Tunnel" rather than wireguard-go's default "WireGuard Tunnel".
func init() { tun.WintunTunnelType = "Ghostwire" }

// wintunAppearTimeout bounds the wait for Windows to attach TCP/IP to a new
// adapter (wireguard-windows waits a minute too; it takes longer at boot).
const wintunAppearTimeout = time.Minute

// devices are the wintun adapters of this process, by name: linkUp forces
// the MTU wireguard-go reports to the one it sets on the interface.
var devices sync.Map // string → *wintunDevice

type wintunDevice struct {
	*tun.NativeTun
	name string
}

func (d *wintunDevice) Close() error {
	devices.Delete(d.name)
	return d.NativeTun.Close()
}

func guidOf(iface string) windows.GUID {
	u := adapterGUID(iface)
	var g windows.GUID
	g.Data1 = uint32(u[0])<<24 | uint32(u[1])<<16 | uint32(u[2])<<8 | uint32(u[3])
	g.Data2 = uint16(u[4])<<8 | uint16(u[5])
	g.Data3 = uint16(u[6])<<8 | uint16(u[7])
	copy(g.Data4[:], u[8:])
	return g
}

// createTUN creates the wintun adapter and returns once Windows has attached
// IPv4 to it: addresses and routes set earlier fail with ERROR_NOT_FOUND
// (wireguard-windows tunnel/interfacewatcher.go waits the same way).
func createTUN(name string, mtu int) (tun.Device, error) {
	appeared := make(chan winipcfg.LUID, 8)
	cb, cbErr := winipcfg.RegisterInterfaceChangeCallback(func(kind winipcfg.MibNotificationType, row *winipcfg.MibIPInterfaceRow) {
		if kind == winipcfg.MibAddInstance && row.Family == windows.AF_INET {
			select {
			case appeared <- row.InterfaceLUID:
			default:
			}
		}
	})
	if cbErr == nil {
		defer func() { _ = cb.Unregister() }()
	}
	guid := guidOf(name)
	td, err := tun.CreateTUNWithRequestedGUID(name, &guid, mtu)
	if err != nil {
		return nil, fmt.Errorf("wintun could not create the adapter: %w", err)
	}
	nt := td.(*tun.NativeTun)
	luid := winipcfg.LUID(nt.LUID())
	deadline := time.NewTimer(wintunAppearTimeout)
	defer deadline.Stop()
	tick := time.NewTicker(100 * time.Millisecond) // the callback may have fired before we knew our LUID
	defer tick.Stop()
	for {
		if _, err := luid.IPInterface(windows.AF_INET); err == nil {
			break
		}
		select {
		case <-appeared:
		case <-tick.C:
		case <-deadline.C:
			_ = nt.Close()
			return nil, fmt.Errorf("Windows did not attach TCP/IP (IPv4) to the adapter %s within %s: is IPv4 disabled on it, or is the machine still booting?", name, wintunAppearTimeout)
		}
	}
	d := &wintunDevice{NativeTun: nt, name: name}
	devices.Store(name, d)
	return d, nil
}

// uapiSocketPath: the UAPI is a named pipe, which the system removes with
// the process; there is no file to journal.
func uapiSocketPath(string) string { return "" }

// uapiListen serves `wg show` (wireguard-windows' wg.exe) on
// \\.\pipe\ProtectedPrefix\Administrators\WireGuard\<name>, where only
// Administrators and SYSTEM can reach it.
func uapiListen(name string) (net.Listener, error) { return ipc.UAPIListen(name) }

// linkIndexByName finds any interface by its name (alias), ours or not.
func linkIndexByName(name string) (int, error) {
	a, err := adapterByAlias(name)
	if err != nil {
		return 0, err
	}
	return int(a.IfIndex), nil
}

func luidByAlias(name string) (winipcfg.LUID, bool) {
	a, err := adapterByAlias(name)
	if err != nil {
		return 0, false
	}
	return a.LUID, true
}

// adapterByAlias finds any adapter by its name (alias), ours or not.
func adapterByAlias(name string) (*winipcfg.IPAdapterAddresses, error) {
	as, err := adapters()
	if err != nil {
		return nil, err
	}
	for _, a := range as {
		if a.FriendlyName() == name {
			return a, nil
		}
	}
	return nil, fmt.Errorf("no interface named %s", name)
}

func adapters() ([]*winipcfg.IPAdapterAddresses, error) {
	as, err := winipcfg.GetAdaptersAddresses(windows.AF_UNSPEC, winipcfg.GAAFlagIncludeAllInterfaces)
	if err != nil {
		return nil, fmt.Errorf("cannot list the network interfaces: %w", err)
	}
	return as, nil
}

// ourAdapter reports whether a is an adapter ghostwire made.
func ourAdapter(a *winipcfg.IPAdapterAddresses) bool {
	g, err := a.LUID.GUID()
	return err == nil && *g == guidOf(a.FriendlyName())
}

// winOps is netOps over the IP Helper API.
type winOps struct{ log *slog.Logger }

func newNetOps() (netOps, error) { return winOps{log: slog.Default()}, nil }

// preflight checks what creating a tunnel needs before anything changes.
func (winOps) preflight() error {
	if err := checkElevated(); err != nil {
		return err
	}
	return checkWintun()
}

// ourLUID is the LUID of our adapter for iface; ok is false when it does
// not exist (any more).
func ourLUID(iface string) (winipcfg.LUID, bool) {
	g := guidOf(iface)
	luid, err := winipcfg.LUIDFromGUID(&g)
	if err != nil {
		return 0, false
	}
	if _, err := luid.Interface(); err != nil {
		return 0, false
	}
	return luid, true
}

func notFound(err error) bool {
	return errors.Is(err, windows.ERROR_NOT_FOUND) || errors.Is(err, windows.ERROR_FILE_NOT_FOUND) ||
		errors.Is(err, windows.ERROR_PATH_NOT_FOUND)
}

func exists(err error) bool { return errors.Is(err, windows.ERROR_OBJECT_ALREADY_EXISTS) }

func family(a netip.Addr) winipcfg.AddressFamily {
	if a.Is4() {
		return windows.AF_INET
	}
	return windows.AF_INET6
}

func unspecified(a netip.Addr) netip.Addr {
	if a.Is4() {
		return netip.IPv4Unspecified()
	}
	return netip.IPv6Unspecified()
}

func (winOps) linkIndex(name string) (int, error) { return linkIndexByName(name) }

// linkUp sets the MTU (NLMTU) and turns off what a point-to-point tunnel
// does not need: duplicate address detection, router discovery, DHCPv6.
// Address families disabled on the adapter are skipped.
func (winOps) linkUp(name string, mtu int) error {
	luid, ok := ourLUID(name)
	if !ok {
		return fmt.Errorf("the adapter %s is gone", name)
	}
	for _, fam := range []winipcfg.AddressFamily{windows.AF_INET, windows.AF_INET6} {
		row, err := luid.IPInterface(fam)
		if notFound(err) {
			continue
		}
		if err != nil {
			return fmt.Errorf("cannot read the interface settings of %s: %w", name, err)
		}
		if fam == windows.AF_INET || mtu >= 1280 { // IPv6 needs 1280; a smaller tunnel MTU leaves it alone
			row.NLMTU = uint32(mtu)
		}
		row.DadTransmits = 0
		row.RouterDiscoveryBehavior = winipcfg.RouterDiscoveryDisabled
		row.ManagedAddressConfigurationSupported = false
		row.OtherStatefulConfigurationSupported = false
		if err := row.Set(); err != nil {
			return fmt.Errorf("cannot set MTU %d on %s: %w", mtu, name, err)
		}
	}
	if d, ok := devices.Load(name); ok {
		d.(*wintunDevice).ForceMTU(mtu)
	}
	return nil
}

func (o winOps) addAddr(link string, p netip.Prefix) error {
	luid, ok := ourLUID(link)
	if !ok {
		return fmt.Errorf("the adapter %s is gone", link)
	}
	err := luid.AddIPAddress(p)
	if !exists(err) {
		return err
	}
	// Taken: by us already, or by a stale interface of a crashed session
	// (removed there, as wireguard-windows does), or by someone else.
	rows, lerr := winipcfg.GetUnicastIPAddressTable(family(p.Addr()))
	if lerr != nil {
		return err
	}
	as, _ := adapters()
	for i := range rows {
		r := &rows[i]
		if r.Address.Addr().Unmap() != p.Addr() {
			continue
		}
		if r.InterfaceLUID == luid {
			return errExists
		}
		holder, up := interfaceState(as, r.InterfaceLUID)
		if up {
			return fmt.Errorf("the address %s is already used by the interface %q: disconnect what uses it (another VPN?)", p.Addr(), holder)
		}
		o.log.Info("removing the tunnel address from a disconnected interface left by an earlier session", "address", p, "interface", holder)
		if derr := r.Delete(); derr != nil {
			return fmt.Errorf("the address %s is held by the disconnected interface %q and cannot be taken back: %w", p.Addr(), holder, derr)
		}
		return luid.AddIPAddress(p)
	}
	return err
}

func interfaceState(as []*winipcfg.IPAdapterAddresses, luid winipcfg.LUID) (name string, up bool) {
	for _, a := range as {
		if a.LUID == luid {
			return a.FriendlyName(), a.OperStatus == winipcfg.IfOperStatusUp
		}
	}
	return fmt.Sprintf("LUID %d", luid), false
}

func (winOps) delAddr(link string, p netip.Prefix) error {
	luid, ok := ourLUID(link)
	if !ok {
		return nil
	}
	if err := luid.DeleteIPAddress(p); err != nil && !notFound(err) {
		return err
	}
	return nil
}

// systemRoutes reads the routing table of a's family with each row's
// interface name, state and effective metric.
func systemRoutes(fam winipcfg.AddressFamily, as []*winipcfg.IPAdapterAddresses) ([]sysRoute, error) {
	rows, err := winipcfg.GetIPForwardTable2(fam)
	if err != nil {
		return nil, fmt.Errorf("cannot read the routing table: %w", err)
	}
	byLUID := map[winipcfg.LUID]*winipcfg.IPAdapterAddresses{}
	for _, a := range as {
		byLUID[a.LUID] = a
	}
	out := make([]sysRoute, 0, len(rows))
	for i := range rows {
		r := &rows[i]
		a := byLUID[r.InterfaceLUID]
		if a == nil {
			continue
		}
		m := a.Ipv4Metric
		if fam == windows.AF_INET6 {
			m = a.Ipv6Metric
		}
		out = append(out, sysRoute{Dst: r.DestinationPrefix.Prefix(), NextHop: r.NextHop.Addr().Unmap(),
			Iface: a.FriendlyName(), Metric: r.Metric + m, Up: a.OperStatus == winipcfg.IfOperStatusUp})
	}
	return out, nil
}

// addRoute routes p into the tunnel through its next hop (routechoice.go:
// never as an on-link subnet). The exact same range on another interface
// is refused (errExists), a partial overlap with a LAN is logged.
func (o winOps) addRoute(link string, p netip.Prefix) error {
	luid, ok := ourLUID(link)
	if !ok {
		return fmt.Errorf("the adapter %s is gone", link)
	}
	fam := family(p.Addr())
	as, err := adapters()
	if err != nil {
		return err
	}
	table, err := systemRoutes(fam, as)
	if err != nil {
		return err
	}
	if r, ok := exactRoute(table, p, link); ok {
		return routeHeld(fmt.Sprintf("%s is already routed through %q (a network this machine is on, or another VPN): "+
			"both would claim the same addresses; disconnect that network or VPN, or ask your admin to push narrower ranges", p, r.Iface))
	}
	for _, r := range lanOverlaps(table, p, link) {
		o.log.Warn("a pushed range overlaps a network this machine is on: the more specific route wins, so part of one is unreachable",
			"interface", link, "range", p, "network", r.Dst, "network_interface", r.Iface)
	}
	gw := tunnelGateway(p)
	if err := luid.AddRoute(netip.PrefixFrom(gw, gw.BitLen()), unspecified(gw), 0); err != nil && !exists(err) {
		if notFound(err) || errors.Is(err, windows.ERROR_INVALID_PARAMETER) {
			return fmt.Errorf("cannot route %s: the tunnel has no address of that IP version (Windows routes a family only with an address of it)", p)
		}
		return fmt.Errorf("cannot add the tunnel's next hop %s: %w", gw, err)
	}
	if err := luid.AddRoute(p.Masked(), gw, 0); err != nil && !exists(err) {
		return err
	}
	return nil
}

func (winOps) delRoute(link string, p netip.Prefix) error {
	luid, ok := ourLUID(link)
	if !ok {
		return nil // the routes went with the adapter
	}
	if err := luid.DeleteRoute(p.Masked(), tunnelGateway(p)); err != nil && !notFound(err) {
		return err
	}
	return nil
}

// pathTo finds how dst is reached outside our tunnels: the best route by
// prefix and effective metric among interfaces that are up and not ours.
func (winOps) pathTo(dst netip.Addr, exclude string) (netip.Addr, string, bool, error) {
	dst = dst.Unmap()
	if dst.IsLoopback() {
		return netip.Addr{}, "", false, nil
	}
	as, err := adapters()
	if err != nil {
		return netip.Addr{}, "", false, err
	}
	for _, a := range as {
		for u := a.FirstUnicastAddress; u != nil; u = u.Next {
			if ip, ok := netip.AddrFromSlice(u.Address.IP()); ok && ip.Unmap() == dst {
				return netip.Addr{}, "", false, nil // a local address: no route to pin
			}
		}
	}
	table, err := systemRoutes(family(dst), as)
	if err != nil {
		return netip.Addr{}, "", false, err
	}
	ours := map[string]bool{exclude: true}
	for _, a := range as {
		if ourAdapter(a) {
			ours[a.FriendlyName()] = true
		}
	}
	r, ok := bestRoute(table, dst, func(r sysRoute) bool { return ours[r.Iface] })
	if !ok {
		return netip.Addr{}, "", false, fmt.Errorf("no route to %s outside the tunnel", dst)
	}
	return r.NextHop, r.Iface, true, nil
}

func (winOps) addHostRoute(dst netip.Prefix, gw netip.Addr, dev string) error {
	luid, ok := luidByAlias(dev)
	if !ok {
		return fmt.Errorf("the interface %q is gone", dev)
	}
	nh := gw
	if !nh.IsValid() {
		nh = unspecified(dst.Addr())
	}
	err := luid.AddRoute(dst, nh, 0)
	if exists(err) {
		return errExists
	}
	return err
}

// delHostRoute removes the pin. When its interface was renamed or is gone,
// the route is found by destination and next hop, which only our pin has.
func (winOps) delHostRoute(dst netip.Prefix, gw netip.Addr, dev string) error {
	nh := gw
	if !nh.IsValid() {
		nh = unspecified(dst.Addr())
	}
	if luid, ok := luidByAlias(dev); ok {
		err := luid.DeleteRoute(dst, nh)
		if err == nil || notFound(err) {
			return nil
		}
		return err
	}
	rows, err := winipcfg.GetIPForwardTable2(family(dst.Addr()))
	if err != nil {
		return err
	}
	for i := range rows {
		if rows[i].DestinationPrefix.Prefix() == dst && rows[i].NextHop.Addr().Unmap() == nh.Unmap() {
			if err := rows[i].Delete(); err != nil && !notFound(err) {
				return err
			}
		}
	}
	return nil
}

// beforeClose empties the adapter: Windows' stack does not take well to
// interfaces destroyed with routes on them (wireguard-windows
// tunnel/interfacewatcher.go).
func (winOps) beforeClose(name string) error {
	luid, ok := ourLUID(name)
	if !ok {
		return nil
	}
	return flushAdapter(luid)
}

func flushAdapter(luid winipcfg.LUID) error {
	var errs []error
	for _, fam := range []winipcfg.AddressFamily{windows.AF_INET, windows.AF_INET6} {
		if err := luid.FlushRoutes(fam); err != nil && !notFound(err) {
			errs = append(errs, err)
		}
		if err := luid.FlushIPAddresses(fam); err != nil && !notFound(err) {
			errs = append(errs, err)
		}
		_ = luid.FlushDNS(fam) // fails for a family the adapter does not have
	}
	return errors.Join(errs...)
}

// delLink: wintun removes an adapter when the process that created it
// closes it or ends (SwDevice lifetime), crash included. One still there
// after a crash is emptied so that it routes and resolves nothing.
func (o winOps) delLink(name string) error {
	if _, live := devices.Load(name); live {
		return nil // closed by the device itself
	}
	// Plug and Play removes the adapter of a process that ended shortly
	// after; give it that moment.
	for deadline := time.Now().Add(adapterGoneWait); ; time.Sleep(100 * time.Millisecond) {
		luid, ok := ourLUID(name)
		if !ok {
			return nil
		}
		if time.Now().After(deadline) {
			o.log.Warn("a ghostwire adapter outlived its session: emptying it", "interface", name)
			return flushAdapter(luid)
		}
	}
}

// adapterGoneWait bounds how long an adapter may take to disappear after
// its process closed it or ended.
const adapterGoneWait = 10 * time.Second
