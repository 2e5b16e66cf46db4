package tunnel

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/net/route"
	"golang.org/x/sys/unix"
)

// Routes on macOS go through the routing socket (PF_ROUTE) with
// golang.org/x/net/route: one RTM_ADD/RTM_DELETE per route on a fresh
// socket, whose write returns the kernel's errno (EEXIST, ESRCH) directly,
// and RTM_GET/sysctl dumps to read the table. Every route we add carries
// rtfOurs.

const (
	rtmAdd    = unix.RTM_ADD
	rtmDelete = unix.RTM_DELETE
)

var rtSeq atomic.Int32

func sockaddr(a netip.Addr) route.Addr {
	if a.Is4() {
		return &route.Inet4Addr{IP: a.As4()}
	}
	return &route.Inet6Addr{IP: a.As16()}
}

func netmask(p netip.Prefix) route.Addr {
	m := net.CIDRMask(p.Bits(), p.Addr().BitLen())
	if p.Addr().Is4() {
		var b [4]byte
		copy(b[:], m)
		return &route.Inet4Addr{IP: b}
	}
	var b [16]byte
	copy(b[:], m)
	return &route.Inet6Addr{IP: b}
}

// routeMessage builds an RTM_ADD/RTM_DELETE/RTM_GET for dst. The next hop is
// gw when valid, else the interface itself (an interface route).
func routeMessage(typ int, dst netip.Prefix, gw netip.Addr, index int, ifname string, flags int) *route.RouteMessage {
	dst = dst.Masked()
	addrs := make([]route.Addr, unix.RTAX_NETMASK+1)
	addrs[unix.RTAX_DST] = sockaddr(dst.Addr())
	if gw.IsValid() {
		addrs[unix.RTAX_GATEWAY] = sockaddr(gw)
	} else if index > 0 {
		addrs[unix.RTAX_GATEWAY] = &route.LinkAddr{Index: index, Name: ifname}
	}
	if flags&rtfHost == 0 {
		addrs[unix.RTAX_NETMASK] = netmask(dst)
	} else {
		addrs = addrs[:unix.RTAX_GATEWAY+1]
	}
	return &route.RouteMessage{
		Version: unix.RTM_VERSION, Type: typ, Flags: flags, Index: index,
		ID: uintptr(os.Getpid()), Seq: int(rtSeq.Add(1)), Addrs: addrs,
	}
}

func routeSocket() (int, error) {
	fd, err := unix.Socket(unix.AF_ROUTE, unix.SOCK_RAW, unix.AF_UNSPEC)
	if err != nil {
		return -1, fmt.Errorf("cannot open the routing socket: %w", err)
	}
	tv := unix.NsecToTimeval(int64(time.Second))
	_ = unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv)
	return fd, nil
}

// rtWrite adds or deletes one route; the kernel's answer is the write's
// errno.
func rtWrite(typ int, dst netip.Prefix, gw netip.Addr, index int, ifname string, flags int) error {
	b, err := routeMessage(typ, dst, gw, index, ifname, flags).Marshal()
	if err != nil {
		return err
	}
	fd, err := routeSocket()
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	for try := 0; ; try++ {
		_, err = unix.Write(fd, b)
		// The table can be busy for a moment while the network changes.
		if !errors.Is(err, syscall.EAGAIN) || try == 3 {
			break
		}
		time.Sleep(time.Duration(50<<try) * time.Millisecond)
	}
	if err != nil {
		return os.NewSyscallError("route "+map[int]string{rtmAdd: "add", rtmDelete: "delete"}[typ]+" "+dst.String(), err)
	}
	return nil
}

// rtDeleteOurs deletes the route for exactly dst through interface index
// when it carries our mark; someone else's route, or none, is left alone.
func rtDeleteOurs(dst netip.Prefix, index int) error {
	table, err := routeTable(dst.Addr().Is6())
	if err != nil {
		return err
	}
	for _, r := range table {
		if r.Dst != dst.Masked() || r.Index != index || r.Flags&rtfOurs == 0 {
			continue
		}
		err := rtWrite(rtmDelete, dst, r.Gateway, index, "", r.Flags)
		if err != nil && !errors.Is(err, syscall.ESRCH) {
			return err
		}
		return nil
	}
	return nil
}

// rtGet asks the kernel how dst is routed now (what `route -n get` shows).
func rtGet(dst netip.Addr) (kernelRoute, string, error) {
	m := routeMessage(unix.RTM_GET, netip.PrefixFrom(dst, dst.BitLen()), netip.Addr{}, 0, "", rtfUp|rtfHost)
	m.Addrs = append(m.Addrs[:unix.RTAX_GATEWAY+1], nil, nil, &route.LinkAddr{}) // ask for the interface (RTAX_IFP)
	b, err := m.Marshal()
	if err != nil {
		return kernelRoute{}, "", err
	}
	fd, err := routeSocket()
	if err != nil {
		return kernelRoute{}, "", err
	}
	defer unix.Close(fd)
	if _, err := unix.Write(fd, b); err != nil {
		if errors.Is(err, syscall.ESRCH) {
			return kernelRoute{}, "", fmt.Errorf("no route to %s (no network?)", dst)
		}
		return kernelRoute{}, "", os.NewSyscallError("route get "+dst.String(), err)
	}
	buf := make([]byte, 2048)
	deadline := time.Now().Add(2 * time.Second)
	for time.Now().Before(deadline) {
		n, err := unix.Read(fd, buf)
		if err != nil {
			if errors.Is(err, syscall.EINTR) {
				continue
			}
			return kernelRoute{}, "", fmt.Errorf("no answer from the routing socket about %s: %w", dst, err)
		}
		msgs, err := parseRoutingMessages(buf[:n])
		if err != nil {
			continue
		}
		for _, msg := range msgs {
			rm, ok := msg.(*route.RouteMessage)
			if !ok || rm.Type != unix.RTM_GET || rm.Seq != m.Seq || rm.ID != m.ID {
				continue // the socket also hears everyone else's changes
			}
			kr, name := convertRoute(rm)
			if name == "" {
				if i, err := net.InterfaceByIndex(kr.Index); err == nil {
					name = i.Name
				}
			}
			return kr, name, nil
		}
	}
	return kernelRoute{}, "", fmt.Errorf("no answer from the routing socket about %s", dst)
}

// parseRoutingMessages is route.ParseRIB that cannot panic: a malformed
// message from the kernel is an error, not a crash of the daemon (the
// parser has panicked before, tailscale #14201).
func parseRoutingMessages(b []byte) (msgs []route.Message, err error) {
	defer func() {
		if r := recover(); r != nil {
			msgs, err = nil, fmt.Errorf("malformed routing message: %v", r)
		}
	}()
	return route.ParseRIB(route.RIBTypeRoute, b)
}

func addrOf(a route.Addr) netip.Addr {
	switch a := a.(type) {
	case *route.Inet4Addr:
		return netip.AddrFrom4(a.IP)
	case *route.Inet6Addr:
		return netip.AddrFrom16(a.IP)
	}
	return netip.Addr{}
}

func maskBits(a route.Addr) int {
	var m net.IPMask
	switch a := a.(type) {
	case *route.Inet4Addr:
		m = a.IP[:]
	case *route.Inet6Addr:
		m = a.IP[:]
	default:
		return -1
	}
	ones, _ := m.Size()
	if ones == 0 && len(m) > 0 && m[0] != 0 {
		return -1 // not contiguous
	}
	return ones
}

// convertRoute turns a routing message into a kernelRoute and, when the
// message names it, the interface.
func convertRoute(m *route.RouteMessage) (kernelRoute, string) {
	kr := kernelRoute{Index: m.Index, Flags: m.Flags}
	at := func(i int) route.Addr {
		if i < len(m.Addrs) {
			return m.Addrs[i]
		}
		return nil
	}
	dst := addrOf(at(unix.RTAX_DST))
	if dst.IsValid() {
		bits := dst.BitLen()
		if m.Flags&rtfHost == 0 {
			if b := maskBits(at(unix.RTAX_NETMASK)); b >= 0 {
				bits = b
			} else if at(unix.RTAX_NETMASK) == nil {
				bits = 0 // a default route may come without a mask
			}
		}
		if p, err := dst.Prefix(bits); err == nil {
			kr.Dst = p
		}
	}
	if g := addrOf(at(unix.RTAX_GATEWAY)); g.IsValid() {
		kr.Gateway = g
	} else if l, ok := at(unix.RTAX_GATEWAY).(*route.LinkAddr); ok && kr.Index == 0 {
		kr.Index = l.Index
	}
	name := ""
	if l, ok := at(unix.RTAX_IFP).(*route.LinkAddr); ok {
		name = l.Name
		if kr.Index == 0 {
			kr.Index = l.Index
		}
	}
	return kr, name
}

// ribSnapshot dumps the route table of one family and the interfaces.
func ribSnapshot(v6 bool) ([]kernelRoute, map[int]linkState, error) {
	table, err := routeTable(v6)
	if err != nil {
		return nil, nil, err
	}
	ifs, err := net.Interfaces()
	if err != nil {
		return nil, nil, fmt.Errorf("cannot list the network interfaces: %w", err)
	}
	links := map[int]linkState{}
	for _, i := range ifs {
		links[i.Index] = linkState{Name: i.Name, Up: i.Flags&net.FlagUp != 0 && i.Flags&net.FlagRunning != 0}
	}
	return table, links, nil
}

// routeTable dumps the route table of one family.
func routeTable(v6 bool) ([]kernelRoute, error) {
	af := unix.AF_INET
	if v6 {
		af = unix.AF_INET6
	}
	b, err := route.FetchRIB(af, route.RIBTypeRoute, 0)
	if err != nil {
		return nil, fmt.Errorf("cannot read the route table: %w", err)
	}
	msgs, err := parseRoutingMessages(b)
	if err != nil {
		return nil, fmt.Errorf("cannot read the route table: %w", err)
	}
	var table []kernelRoute
	for _, msg := range msgs {
		if rm, ok := msg.(*route.RouteMessage); ok {
			kr, _ := convertRoute(rm)
			table = append(table, kr)
		}
	}
	return table, nil
}
