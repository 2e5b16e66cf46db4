package tunnel

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"sync"
	"time"

	"golang.zx2c4.com/wireguard/conn"
	"golang.zx2c4.com/wireguard/device"
	"golang.zx2c4.com/wireguard/tun"
)

// netOps is what the tunnel needs from the OS network stack, by name so that
// journal entries can be undone after a restart. Undo methods succeed when
// the thing is already gone.
type netOps interface {
	linkIndex(name string) (int, error)
	linkUp(name string, mtu int) error
	addAddr(link string, p netip.Prefix) error
	delAddr(link string, p netip.Prefix) error
	addRoute(link string, p netip.Prefix) error
	delRoute(link string, p netip.Prefix) error
	// pathTo says how dst is reached now: gateway (may be invalid for an
	// on-link destination) and interface; ok is false when no pin is needed
	// (local address). Routes through exclude (our own interface) are
	// skipped.
	pathTo(dst netip.Addr, exclude string) (gw netip.Addr, dev string, ok bool, err error)
	addHostRoute(dst netip.Prefix, gw netip.Addr, dev string) error
	delHostRoute(dst netip.Prefix, gw netip.Addr, dev string) error
	delLink(name string) error
}

// errExists is returned by add methods when the same route or address
// exists; an OS layer may wrap it with who holds the route.
var errExists = errors.New("already exists")

// routeHeld is errExists saying who holds the route.
type routeHeld string

func (e routeHeld) Error() string        { return string(e) }
func (e routeHeld) Is(target error) bool { return target == errExists }

// localNetworks is implemented by OS layers that can list the networks of
// the machine's other interfaces (for a warning when a pushed range
// overlaps the Wi-Fi's subnet).
type localNetworks interface {
	localNets(exclude string) []netip.Prefix
}

// live names the interfaces of tunnels running in this process, so that
// Recover leaves them alone and a second Up on the same name is refused.
var live = struct {
	sync.Mutex
	names map[string]bool
}{names: map[string]bool{}}

func liveInterface(name string) bool {
	live.Lock()
	defer live.Unlock()
	return live.names[name]
}

func claimInterface(name string) error {
	live.Lock()
	defer live.Unlock()
	if live.names[name] {
		return fmt.Errorf("a tunnel on %s is already up in this process: bring it down first", name)
	}
	live.names[name] = true
	return nil
}

func releaseInterface(name string) {
	live.Lock()
	defer live.Unlock()
	delete(live.names, name)
}

// Tunnel is a running tunnel: TUN device, WireGuard device, address, routes
// and DNS. Its methods are safe for concurrent use.
type Tunnel struct {
	mu     sync.Mutex
	cfg    Config
	log    *slog.Logger
	ops    netOps
	j      *journal
	tdev   tun.Device
	out    *outgoing // tdev as the WireGuard device reads it
	dev    *device.Device
	uapi   net.Listener
	name   string
	index  int
	routes []netip.Prefix
	pins   []entry // host routes to endpoints inside a pushed range
	dns    dnsState
	closed bool
}

// Up creates the interface, configures WireGuard, the address, MTU, routes
// and DNS, journaling each change before making it. On failure everything
// done so far is undone. log may be nil.
func Up(ctx context.Context, cfg Config, log *slog.Logger) (*Tunnel, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	ops, err := newNetOps()
	if err != nil {
		return nil, err
	}
	if p, ok := ops.(preflighter); ok {
		if err := p.preflight(); err != nil {
			return nil, err
		}
	}
	if err := claimInterface(cfg.Interface); err != nil {
		return nil, err
	}
	log = log.With("interface", cfg.Interface)
	if _, err := loadJournal(journalPath(cfg.JournalDir, cfg.Interface)); err == nil {
		log.Warn("found the journal of a tunnel that did not shut down cleanly; undoing its changes first")
		if err := recoverJournal(journalPath(cfg.JournalDir, cfg.Interface), log); err != nil {
			releaseInterface(cfg.Interface)
			return nil, fmt.Errorf("cannot clean up after the previous tunnel on %s: %w", cfg.Interface, err)
		}
	}
	j, err := newJournal(cfg.JournalDir, cfg.Interface)
	if err != nil {
		releaseInterface(cfg.Interface)
		return nil, err
	}
	t := &Tunnel{cfg: cfg, log: log, ops: ops, j: j, name: cfg.Interface}
	if err := t.up(ctx); err != nil {
		if cerr := t.Close(); cerr != nil {
			log.Warn("cleanup after a failed start was incomplete", "err", cerr)
		}
		return nil, err
	}
	log.Info("tunnel up", "address", cfg.Address, "endpoint", cfg.Peer.Endpoint,
		"routes", t.routes, "dns", t.dns.mode, "pinned_endpoints", len(t.pins), "standby", len(cfg.Standby))
	return t, nil
}

func (t *Tunnel) up(ctx context.Context) error {
	cfg := t.cfg
	if _, err := t.ops.linkIndex(cfg.Interface); err == nil {
		return fmt.Errorf("an interface named %s exists already (another VPN?): choose another name or remove it", cfg.Interface)
	}
	if err := t.j.record(entry{Kind: kindLink, Link: cfg.Interface}); err != nil {
		return err
	}
	if sock := uapiSocketPath(cfg.Interface); sock != "" { // Windows: a named pipe, no file
		if err := t.j.record(entry{Kind: kindSocket, Path: sock}); err != nil {
			return err
		}
	}
	tdev, err := createTUN(cfg.Interface, cfg.MTU)
	if err != nil {
		return fmt.Errorf("cannot create the tunnel interface %s (is another VPN using that name? are you root?): %w", cfg.Interface, err)
	}
	t.tdev = tdev
	if name, err := tdev.Name(); err == nil && name != cfg.Interface {
		t.name = name // macOS picks utunN itself
	}
	t.out = newOutgoing(tdev)
	t.dev = device.NewDevice(t.out, conn.NewDefaultBind(), wgLogger(t.log))
	if err := t.dev.IpcSet(uapiConfig(cfg, nil)); err != nil {
		return fmt.Errorf("cannot configure WireGuard: %w", err)
	}
	// Named after the profile's interface (on macOS the utun differs), as
	// the journal's socket entry above is.
	if t.uapi, err = uapiListen(cfg.Interface); err != nil {
		// Debugging aid only: the tunnel works without it.
		t.log.Warn("`wg show` will not see this tunnel", "err", err)
	} else {
		go t.serveUAPI(t.uapi)
	}
	if t.index, err = t.ops.linkIndex(t.name); err != nil {
		return err
	}
	if err := t.addAddress(cfg.Address); err != nil {
		return err
	}
	// Start the device before the link comes up: the link-up event would
	// otherwise start it from wireguard-go's event goroutine.
	if err := t.dev.Up(); err != nil {
		return fmt.Errorf("cannot start WireGuard on %s: %w", t.name, err)
	}
	if err := t.ops.linkUp(t.name, cfg.MTU); err != nil {
		return fmt.Errorf("cannot bring %s up: %w", t.name, err)
	}
	if err := t.applyRoutes(cfg); err != nil {
		return err
	}
	if err := t.applyDNS(ctx, cfg); err != nil {
		return err
	}
	return t.kickLocked()
}

func (t *Tunnel) serveUAPI(l net.Listener) {
	for {
		c, err := l.Accept()
		if err != nil {
			return
		}
		go t.dev.IpcHandle(c)
	}
}

func (t *Tunnel) addAddress(p netip.Prefix) error {
	if err := t.j.record(entry{Kind: kindAddr, Link: t.name, Prefix: p}); err != nil {
		return err
	}
	if err := t.ops.addAddr(t.name, p); err != nil && !errors.Is(err, errExists) {
		return fmt.Errorf("cannot set address %s on %s: %w", p, t.name, err)
	}
	return nil
}

// applyRoutes brings the routes (and the endpoint pins) to what cfg needs.
func (t *Tunnel) applyRoutes(cfg Config) error {
	next := routePlan(cfg)
	// Re-pin first: an endpoint may have moved, or the network changed.
	if err := t.unpin(); err != nil {
		return err
	}
	for _, ep := range coveredEndpoints(cfg, next) {
		if err := t.pinEndpoint(ep); err != nil {
			return err
		}
	}
	add, remove := diffPrefixes(t.routes, next)
	if l, ok := t.ops.(localNetworks); ok {
		for _, w := range overlapsLocal(add, l.localNets(t.name)) {
			t.log.Warn("a cluster range overlaps a network of this machine: addresses in the overlap go to the more specific route only", "overlap", w)
		}
	}
	for _, p := range add {
		if err := t.j.record(entry{Kind: kindRoute, Link: t.name, Prefix: p}); err != nil {
			return err
		}
		err := t.ops.addRoute(t.name, p)
		if errors.Is(err, errExists) {
			_ = t.j.forget(func(e entry) bool { return e.Kind == kindRoute && e.Prefix == p })
			if err != errExists { // the OS layer said who holds it
				return fmt.Errorf("cannot route %s into the tunnel: %w", p, err)
			}
			return fmt.Errorf("cannot route %s into the tunnel: another interface already has that exact route "+
				"(another VPN or ghostwire profile?); disconnect it and try again", p)
		}
		if err != nil {
			return fmt.Errorf("cannot add route %s via %s: %w", p, t.name, err)
		}
		t.routes = append(t.routes, p)
	}
	for _, p := range remove {
		if err := t.ops.delRoute(t.name, p); err != nil {
			return fmt.Errorf("cannot remove route %s via %s: %w", p, t.name, err)
		}
		_ = t.j.forget(func(e entry) bool { return e.Kind == kindRoute && e.Prefix == p })
		t.routes = slices.DeleteFunc(t.routes, func(q netip.Prefix) bool { return q == p })
	}
	return nil
}

func (t *Tunnel) pinEndpoint(ep netip.Addr) error {
	gw, dev, ok, err := t.ops.pathTo(ep, t.name)
	if err != nil {
		return fmt.Errorf("cannot find how the server %s is reached now (no network?): %w", ep, err)
	}
	if !ok {
		return nil
	}
	if dev == t.name {
		return fmt.Errorf("the server %s is only reachable through the tunnel itself; check your network", ep)
	}
	e := entry{Kind: kindHostRoute, Prefix: netip.PrefixFrom(ep, ep.BitLen()), Gateway: gw, Link: dev}
	if err := t.j.record(e); err != nil {
		return err
	}
	err = t.ops.addHostRoute(e.Prefix, gw, dev)
	if errors.Is(err, errExists) {
		// Someone else pinned it already (another profile to the same
		// server): use theirs, and leave it alone on the way out.
		_ = t.j.forget(func(x entry) bool { return x.Kind == kindHostRoute && x.Prefix == e.Prefix })
		return nil
	}
	if err != nil {
		return fmt.Errorf("cannot pin the route to the server %s via %s: %w", ep, dev, err)
	}
	t.log.Info("a server endpoint is inside a tunnel range: pinned a host route to it", "route", e.String())
	t.pins = append(t.pins, e)
	return nil
}

func (t *Tunnel) unpin() error {
	for len(t.pins) > 0 {
		p := t.pins[0]
		if err := t.ops.delHostRoute(p.Prefix, p.Gateway, p.Link); err != nil {
			return fmt.Errorf("cannot remove the old route to the server: %w", err)
		}
		_ = t.j.forget(func(x entry) bool { return x.Kind == kindHostRoute && x.Prefix == p.Prefix })
		t.pins = t.pins[1:]
	}
	return nil
}

// Name is the interface's real name (on macOS the OS picks it).
func (t *Tunnel) Name() string { return t.name }

// DNSMode reports the DNS mechanism in use (DNSOff when none).
func (t *Tunnel) DNSMode() DNSMode {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.dns.mode
}

// Close undoes every change and removes the interface. It is safe to call
// more than once.
func (t *Tunnel) Close() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return nil
	}
	t.closed = true
	defer releaseInterface(t.cfg.Interface)
	if err := t.leaveDNS(); err != nil {
		// Its journal entry stays: the rollback below restores the file.
		t.log.Warn("could not hand back the shared DNS file", "err", err)
	}
	closeDevice := func() error {
		if t.uapi != nil {
			_ = t.uapi.Close()
		}
		if cp, ok := t.ops.(closePreparer); ok && t.tdev != nil {
			if err := cp.beforeClose(t.name); err != nil {
				t.log.Warn("could not empty the interface before removing it", "err", err)
			}
		}
		if t.dev != nil {
			t.dev.Close() // closes the TUN too: the kernel removes the interface
		} else if t.tdev != nil {
			_ = t.tdev.Close()
		}
		return nil
	}
	err := t.j.rollback(func(e entry) error { return undoEntry(e, t.ops, nil, closeDevice, t.log) }, t.log)
	if err != nil {
		return fmt.Errorf("the tunnel on %s was not fully undone (run `ghostwire down` again or restart the daemon): %w", t.name, err)
	}
	t.log.Info("tunnel down: interface, routes and DNS restored")
	return nil
}

// Stats is the live state of the tunnel's peer.
type Stats struct {
	LatestHandshake time.Time // zero: no handshake yet
	RxBytes         int64
	TxBytes         int64
}

// Stats reads the peer's counters from the WireGuard device.
func (t *Tunnel) Stats() (Stats, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	s, err := t.ipcGetLocked()
	if err != nil {
		return Stats{}, err
	}
	return parseStats(s, t.cfg.Peer.PublicKey)
}

// ipcGetLocked reads the WireGuard device's state (UAPI "get").
func (t *Tunnel) ipcGetLocked() (string, error) {
	if t.closed {
		return "", errors.New("the tunnel is down")
	}
	s, err := t.dev.IpcGet()
	if err != nil {
		return "", fmt.Errorf("cannot read the WireGuard device: %w", err)
	}
	return s, nil
}

// Outgoing returns a channel that receives once when the next packet from
// this machine goes out through the tunnel (not WireGuard's own keepalives
// and handshakes). Each call arms it again.
func (t *Tunnel) Outgoing() <-chan struct{} { return t.out.arm() }

// Kick sends a keepalive to the peer now, which starts a handshake at once
// when there is no session (instead of waiting for traffic).
func (t *Tunnel) Kick() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return errors.New("the tunnel is down")
	}
	return t.kickLocked()
}

// Rehandshake sends a handshake initiation to the peer now, even while a
// session is live, so that a caller can tell within one round trip whether
// the path still works (after a wake or a network change): a LatestHandshake
// newer than the call means the server answered.
func (t *Tunnel) Rehandshake() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return errors.New("the tunnel is down")
	}
	found, err := t.rehandshakeLocked(t.cfg.Peer.PublicKey)
	if !found {
		return errors.New("the WireGuard device has no peer (internal error)")
	}
	if err != nil {
		return fmt.Errorf("cannot send a WireGuard handshake to %s (no network?): %w", t.cfg.Peer.Endpoint, err)
	}
	return nil
}

// rehandshakeLocked sends a handshake initiation to peer pub now; found is
// false when the device has no such peer.
//
// wireguard-go's SendHandshakeInitiation silently does nothing when an
// initiation left less than RekeyTimeout (5 s) ago, and its own timers send
// them too (rekey, retransmits); ExpireCurrentKeypairs first lifts that
// limit. It also retires the current session for sending, so outgoing
// packets wait in the device's queue for the new session (one round trip);
// packets still arrive on the old one meanwhile.
func (t *Tunnel) rehandshakeLocked(pub Key) (found bool, err error) {
	p := t.dev.LookupPeer(device.NoisePublicKey(pub))
	if p == nil {
		return false, nil
	}
	p.ExpireCurrentKeypairs()
	return true, p.SendHandshakeInitiation(false)
}

func (t *Tunnel) kickLocked() error {
	p := t.dev.LookupPeer(device.NoisePublicKey(t.cfg.Peer.PublicKey))
	if p == nil {
		return errors.New("the WireGuard device has no peer (internal error)")
	}
	p.SendKeepalive()
	// Standbys start their sessions now too: a replica is worth moving to
	// only while it is known to answer.
	t.keepaliveStandbysLocked()
	return nil
}

// keepaliveStandbysLocked sends a keepalive to every standby peer, which
// starts a handshake where there is no session.
func (t *Tunnel) keepaliveStandbysLocked() {
	for _, sb := range t.cfg.Standby {
		if q := t.dev.LookupPeer(device.NoisePublicKey(sb.PublicKey)); q != nil {
			q.SendKeepalive()
		}
	}
}

// Reconfigure applies cfg to the running tunnel without removing the
// interface: a new private key (rotation), a new or changed peer, a new
// address, MTU, routes and DNS. Interface and JournalDir cannot change.
func (t *Tunnel) Reconfigure(ctx context.Context, cfg Config) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	cfg = cfg.withDefaults()
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return errors.New("the tunnel is down: bring it up again")
	}
	old := t.cfg
	if cfg.Interface != old.Interface || cfg.JournalDir != old.JournalDir {
		return errors.New("tunnel reconfigure: the interface name and journal directory cannot change; close and bring up a new tunnel")
	}
	if err := t.dev.IpcSet(uapiConfig(cfg, &old)); err != nil {
		return fmt.Errorf("cannot reconfigure WireGuard: %w", err)
	}
	t.cfg = cfg
	if cfg.Address != old.Address {
		// Old one first: deleting a primary IPv4 address also deletes the
		// secondaries of its subnet, which the new one would be. Deleting
		// the last IPv4 address flushes the interface's routes, so they are
		// all added again below.
		if err := t.ops.delAddr(t.name, old.Address); err != nil {
			return fmt.Errorf("cannot remove old address %s: %w", old.Address, err)
		}
		_ = t.j.forget(func(e entry) bool { return e.Kind == kindAddr && e.Prefix == old.Address })
		if err := t.addAddress(cfg.Address); err != nil {
			return err
		}
		t.routes = nil
		_ = t.j.forget(func(e entry) bool { return e.Kind == kindRoute })
	}
	if cfg.MTU != old.MTU {
		if err := t.ops.linkUp(t.name, cfg.MTU); err != nil {
			return fmt.Errorf("cannot set MTU %d on %s: %w", cfg.MTU, t.name, err)
		}
	}
	if err := t.applyRoutes(cfg); err != nil {
		return err
	}
	if !sameDNS(cfg, old) {
		if err := t.undoDNS(); err != nil {
			return err
		}
		if err := t.applyDNS(ctx, cfg); err != nil {
			return err
		}
	}
	t.log.Info("tunnel reconfigured", "address", cfg.Address, "endpoint", cfg.Peer.Endpoint,
		"new_key", !cfg.PrivateKey.equal(old.PrivateKey), "new_peer", cfg.Peer.PublicKey != old.Peer.PublicKey)
	return t.kickLocked()
}

func wgLogger(log *slog.Logger) *device.Logger {
	return &device.Logger{
		Verbosef: func(f string, a ...any) { log.Debug("wireguard: " + fmt.Sprintf(f, a...)) },
		Errorf:   func(f string, a ...any) { log.Warn("wireguard: " + fmt.Sprintf(f, a...)) },
	}
}
