package forward

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"strings"
	"sync"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// Rules are the installed rules.
type Rules struct {
	o    Options
	ns   netns.NsHandle
	conn *nftables.Conn
	once sync.Once
}

// Install turns on forwarding when it can and replaces the server's table.
// A failure to enable forwarding is not fatal (Status reports it); a failure
// to install rules is.
func Install(o Options) (*Rules, error) {
	if err := o.check(); err != nil {
		return nil, err
	}
	r := &Rules{o: o, ns: netns.None()}
	var err error
	if o.NetNS != "" {
		if strings.ContainsRune(o.NetNS, '/') {
			r.ns, err = netns.GetFromPath(o.NetNS)
		} else {
			r.ns, err = netns.GetFromName(o.NetNS)
		}
		if err != nil {
			return nil, fmt.Errorf("opening network namespace %q: %w", o.NetNS, err)
		}
		r.conn, err = nftables.New(nftables.WithNetNSFd(int(r.ns)))
	} else {
		r.conn, err = nftables.New()
	}
	if err != nil {
		r.close()
		return nil, fmt.Errorf("opening nftables: %w", err)
	}
	if err := r.enableForwarding(); err != nil {
		o.Logger.Warn("could not turn on IP forwarding", "error", err.Error())
	}
	if err := r.apply(); err != nil {
		r.close()
		return nil, fmt.Errorf("installing nftables rules (the Pod needs NET_ADMIN): %w", err)
	}
	o.Logger.Info("forwarding rules installed", "table", "inet "+TableName, "interface", o.Interface, "masquerade", o.Masquerade, "routes", len(o.Routes))
	return r, nil
}

func (r *Rules) sysctlPath() string {
	if r.o.Pool.Addr().Is4() {
		return "/proc/sys/net/ipv4/ip_forward"
	}
	return "/proc/sys/net/ipv6/conf/all/forwarding"
}

// inNS runs f on a thread in the rules' namespace (/proc/sys/net follows the
// opening thread's namespace).
func (r *Rules) inNS(f func() error) error {
	if !r.ns.IsOpen() {
		return f()
	}
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread dies with the goroutine
		if err := netns.Set(r.ns); err != nil {
			errc <- err
			return
		}
		errc <- f()
	}()
	return <-errc
}

func (r *Rules) enableForwarding() error {
	return r.inNS(func() error {
		b, err := os.ReadFile(r.sysctlPath())
		if err == nil && strings.TrimSpace(string(b)) == "1" {
			return nil
		}
		return os.WriteFile(r.sysctlPath(), []byte("1\n"), 0o644)
	})
}

// Status is nil when the kernel forwards, else ErrForwardingOff.
func (r *Rules) Status() error {
	return r.inNS(func() error {
		b, err := os.ReadFile(r.sysctlPath())
		if err != nil {
			return fmt.Errorf("reading %s: %w", r.sysctlPath(), err)
		}
		if strings.TrimSpace(string(b)) != "1" {
			return ErrForwardingOff
		}
		return nil
	})
}

func ifname(n string) []byte {
	b := make([]byte, unix.IFNAMSIZ)
	copy(b, n)
	return b
}

func (r *Rules) apply() error {
	c := r.conn
	table := &nftables.Table{Family: nftables.TableFamilyINet, Name: TableName}
	// Start from a clean table: add then delete removes any leftover from a
	// previous run in one transaction, whether it existed or not.
	c.AddTable(table)
	c.DelTable(table)
	c.AddTable(table)
	accept := nftables.ChainPolicyAccept
	fwd := c.AddChain(&nftables.Chain{Name: "forward", Table: table, Type: nftables.ChainTypeFilter,
		Hooknum: nftables.ChainHookForward, Priority: nftables.ChainPriorityFilter, Policy: &accept})

	iif := []expr.Any{
		&expr.Meta{Key: expr.MetaKeyIIFNAME, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: ifname(r.o.Interface)},
	}
	oif := func(op expr.CmpOp) []expr.Any {
		return []expr.Any{
			&expr.Meta{Key: expr.MetaKeyOIFNAME, Register: 1},
			&expr.Cmp{Op: op, Register: 1, Data: ifname(r.o.Interface)},
		}
	}
	verdict := func(k expr.VerdictKind) expr.Any { return &expr.Verdict{Kind: k} }
	cat := func(parts ...[]expr.Any) []expr.Any {
		var out []expr.Any
		for _, p := range parts {
			out = append(out, p...)
		}
		return out
	}
	v4 := r.o.Pool.Addr().Is4()
	proto := byte(unix.NFPROTO_IPV4)
	daddrOff, addrLen := uint32(16), uint32(4)
	saddrOff := uint32(12)
	if !v4 {
		proto, daddrOff, addrLen, saddrOff = unix.NFPROTO_IPV6, 24, 16, 8
	}
	family := []expr.Any{
		&expr.Meta{Key: expr.MetaKeyNFPROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{proto}},
	}
	prefixMatch := func(off uint32, addr []byte, bits int) []expr.Any {
		mask := make([]byte, addrLen)
		for i := 0; i < bits; i++ {
			mask[i/8] |= 0x80 >> (i % 8)
		}
		return []expr.Any{
			&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: off, Len: addrLen},
			&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: addrLen, Mask: mask, Xor: make([]byte, addrLen)},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: addr},
		}
	}

	// 1. Clients never reach each other.
	c.AddRule(&nftables.Rule{Table: table, Chain: fwd, Exprs: cat(iif, oif(expr.CmpOpEq), []expr.Any{verdict(expr.VerdictDrop)})})
	// 2. Clients reach the pushed routes and DNS servers only (when routes are set).
	if len(r.o.Routes) > 0 {
		for _, p := range r.o.Routes {
			c.AddRule(&nftables.Rule{Table: table, Chain: fwd, Exprs: cat(iif, family, prefixMatch(daddrOff, p.Addr().AsSlice(), p.Bits()), []expr.Any{verdict(expr.VerdictAccept)})})
		}
		for _, a := range r.o.DNSServers {
			if a.Is4() != v4 {
				continue
			}
			c.AddRule(&nftables.Rule{Table: table, Chain: fwd, Exprs: cat(iif, family, prefixMatch(daddrOff, a.AsSlice(), a.BitLen()), []expr.Any{verdict(expr.VerdictAccept)})})
		}
		c.AddRule(&nftables.Rule{Table: table, Chain: fwd, Exprs: cat(iif, []expr.Any{verdict(expr.VerdictDrop)})})
	} else {
		c.AddRule(&nftables.Rule{Table: table, Chain: fwd, Exprs: cat(iif, []expr.Any{verdict(expr.VerdictAccept)})})
	}
	// 3. Towards clients: replies only; nothing in the cluster opens a connection to a laptop.
	c.AddRule(&nftables.Rule{Table: table, Chain: fwd, Exprs: cat(oif(expr.CmpOpEq), []expr.Any{
		&expr.Ct{Register: 1, Key: expr.CtKeySTATE},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4,
			Mask: binaryutil.NativeEndian.PutUint32(expr.CtStateBitESTABLISHED | expr.CtStateBitRELATED), Xor: []byte{0, 0, 0, 0}},
		&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: []byte{0, 0, 0, 0}},
		verdict(expr.VerdictAccept),
	})})
	c.AddRule(&nftables.Rule{Table: table, Chain: fwd, Exprs: cat(oif(expr.CmpOpEq), []expr.Any{verdict(expr.VerdictDrop)})})

	// 4. Masquerade client traffic leaving the Pod.
	if r.o.Masquerade {
		post := c.AddChain(&nftables.Chain{Name: "postrouting", Table: table, Type: nftables.ChainTypeNAT,
			Hooknum: nftables.ChainHookPostrouting, Priority: nftables.ChainPriorityNATSource})
		c.AddRule(&nftables.Rule{Table: table, Chain: post, Exprs: cat(family,
			prefixMatch(saddrOff, r.o.Pool.Addr().AsSlice(), r.o.Pool.Bits()), oif(expr.CmpOpNeq), []expr.Any{&expr.Masq{}})})
	}
	return c.Flush()
}

// Remove deletes the server's table.
func (r *Rules) Remove() error {
	var err error
	r.once.Do(func() {
		r.conn.DelTable(&nftables.Table{Family: nftables.TableFamilyINet, Name: TableName})
		if e := r.conn.Flush(); e != nil && !errors.Is(e, unix.ENOENT) {
			err = fmt.Errorf("removing nftables table inet %s: %w", TableName, e)
		}
		r.close()
	})
	return err
}

func (r *Rules) close() {
	if r.ns.IsOpen() {
		r.ns.Close()
	}
}
