package wgdev

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
	"golang.zx2c4.com/wireguard/conn"
	"golang.zx2c4.com/wireguard/device"
	"golang.zx2c4.com/wireguard/ipc"
	"golang.zx2c4.com/wireguard/tun"
	"golang.zx2c4.com/wireguard/wgctrl"
	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"

	"net/netip"
)

// Device is the server's WireGuard interface.
type Device struct {
	name   string
	kind   string
	pub    wgtypes.Key
	log    *slog.Logger
	client *wgctrl.Client
	nl     *netlink.Handle
	// ns is the device's namespace when Options.NetNS is set; nsMu keeps
	// Close from closing it under a wireguard-go goroutine still entering
	// it (nsBind, nsTUN), and inNS refuses to run once it is closed.
	nsMu  sync.RWMutex
	ns    netns.NsHandle
	inOwn bool

	// userspace only
	wg   *device.Device
	uapi net.Listener

	closeOnce sync.Once
}

// Open creates and configures the device: kernel first (mode auto or kernel),
// else wireguard-go; then address, MTU, link up.
func Open(o Options) (d *Device, err error) {
	if err := o.check(); err != nil {
		return nil, err
	}
	d = &Device{name: o.Name, pub: o.PrivateKey.PublicKey(), log: o.Logger, ns: netns.None()}
	defer func() {
		if err != nil {
			d.Close()
			d = nil
		}
	}()
	if o.NetNS != "" {
		if strings.ContainsRune(o.NetNS, '/') {
			d.ns, err = netns.GetFromPath(o.NetNS)
		} else {
			d.ns, err = netns.GetFromName(o.NetNS)
		}
		if err != nil {
			return d, fmt.Errorf("opening network namespace %q: %w", o.NetNS, err)
		}
		d.inOwn = true
		d.nl, err = netlink.NewHandleAt(d.ns)
	} else {
		d.nl, err = netlink.NewHandle()
	}
	if err != nil {
		return d, fmt.Errorf("opening netlink: %w", err)
	}
	if old, err := d.nl.LinkByName(o.Name); err == nil {
		o.Logger.Warn("removing a leftover interface with our name (previous run?)", "interface", o.Name, "type", old.Type())
		if err := d.nl.LinkDel(old); err != nil {
			return d, fmt.Errorf("interface %s already exists and cannot be removed: %w (remove it or choose another --interface)", o.Name, err)
		}
	}

	if o.Mode != ModeUserspace {
		kerr := d.nl.LinkAdd(&netlink.Wireguard{LinkAttrs: netlink.LinkAttrs{Name: o.Name, MTU: o.MTU}})
		switch {
		case kerr == nil:
			d.kind = KindKernel
		case errors.Is(kerr, unix.EPERM):
			return d, fmt.Errorf("creating interface %s: %w (the server needs the NET_ADMIN capability)", o.Name, kerr)
		case o.Mode == ModeKernel:
			return d, fmt.Errorf("creating kernel WireGuard interface %s: %w (the node's kernel has no WireGuard module: use --wg-mode=auto or userspace)", o.Name, kerr)
		default:
			o.Logger.Info("kernel WireGuard not available, using embedded wireguard-go", "interface", o.Name, "reason", kerr.Error())
		}
	}
	if d.kind == "" {
		if err := d.openUserspace(o); err != nil {
			return d, err
		}
		d.kind = KindUserspace
	}
	// The wgctrl client talks generic netlink (kernel) in the device's
	// namespace and the UAPI socket (userspace), which is a path.
	if err := d.inNS(func() (err error) { d.client, err = wgctrl.New(); return err }); err != nil {
		return d, fmt.Errorf("opening wgctrl: %w", err)
	}
	if d.kind == KindKernel {
		port := o.ListenPort
		if err := d.client.ConfigureDevice(o.Name, wgtypes.Config{PrivateKey: &o.PrivateKey, ListenPort: &port}); err != nil {
			return d, fmt.Errorf("configuring %s: %w", o.Name, err)
		}
	}
	link, err := d.nl.LinkByName(o.Name)
	if err != nil {
		return d, fmt.Errorf("finding interface %s: %w", o.Name, err)
	}
	if err := d.nl.LinkSetMTU(link, o.MTU); err != nil {
		return d, fmt.Errorf("setting MTU %d on %s: %w", o.MTU, o.Name, err)
	}
	addr := &netlink.Addr{IPNet: &net.IPNet{IP: o.Address.Addr().AsSlice(), Mask: net.CIDRMask(o.Address.Bits(), o.Address.Addr().BitLen())}}
	if err := d.nl.AddrAdd(link, addr); err != nil {
		return d, fmt.Errorf("adding address %s to %s: %w", o.Address, o.Name, err)
	}
	if err := d.nl.LinkSetUp(link); err != nil {
		return d, fmt.Errorf("bringing %s up: %w", o.Name, err)
	}
	o.Logger.Info("WireGuard device up", "interface", o.Name, "kind", d.kind, "listen_port", o.ListenPort, "address", o.Address.String(), "public_key", d.pub.String())
	return d, nil
}

// openUserspace starts wireguard-go. Everything that binds to the network
// (TUN, UDP socket) happens inside the namespace; later UAPI calls only
// change peers, which never rebinds.
func (d *Device) openUserspace(o Options) error {
	uapiFile, err := ipc.UAPIOpen(o.Name)
	if err != nil {
		return fmt.Errorf("opening the UAPI socket %s: %w (the directory must be writable: mount an emptyDir there)", filepath.Join(UAPIDir, o.Name+".sock"), err)
	}
	err = d.inNS(func() error {
		tdev, err := tun.CreateTUN(o.Name, o.MTU)
		if err != nil {
			return fmt.Errorf("creating TUN device %s: %w (the Pod needs /dev/net/tun and NET_ADMIN)", o.Name, err)
		}
		logger := &device.Logger{
			Verbosef: func(format string, args ...any) { o.Logger.Debug(fmt.Sprintf(format, args...), "interface", o.Name) },
			Errorf:   func(format string, args ...any) { o.Logger.Warn(fmt.Sprintf(format, args...), "interface", o.Name) },
		}
		var bind conn.Bind = conn.NewDefaultBind()
		if d.inOwn {
			bind, tdev = &nsBind{Bind: bind, d: d}, &nsTUN{Device: tdev, d: d}
		}
		d.wg = device.NewDevice(tdev, bind, logger)
		cfg := fmt.Sprintf("private_key=%x\nlisten_port=%d\n", o.PrivateKey[:], o.ListenPort)
		if err := d.wg.IpcSet(cfg); err != nil {
			return fmt.Errorf("configuring wireguard-go: %w", err)
		}
		if err := d.wg.Up(); err != nil {
			return fmt.Errorf("starting wireguard-go on UDP port %d: %w", o.ListenPort, err)
		}
		return nil
	})
	if err != nil {
		uapiFile.Close()
		os.Remove(filepath.Join(UAPIDir, o.Name+".sock"))
		return err
	}
	d.uapi, err = ipc.UAPIListen(o.Name, uapiFile)
	if err != nil {
		uapiFile.Close()
		return fmt.Errorf("listening on the UAPI socket: %w", err)
	}
	go func() {
		for {
			c, err := d.uapi.Accept()
			if err != nil {
				return
			}
			go d.wg.IpcHandle(c)
		}
	}()
	return nil
}

// inNS runs f on an OS thread inside the device's namespace (or directly
// when there is none). The thread is discarded afterwards.
func (d *Device) inNS(f func() error) error {
	d.nsMu.RLock()
	defer d.nsMu.RUnlock()
	if !d.inOwn {
		return f()
	}
	if !d.ns.IsOpen() {
		return errors.New("the WireGuard device is closed")
	}
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread dies with the goroutine
		if err := netns.Set(d.ns); err != nil {
			errc <- fmt.Errorf("entering network namespace: %w", err)
			return
		}
		errc <- f()
	}()
	return <-errc
}

// nsBind opens wireguard-go's UDP sockets inside the device's namespace
// whichever goroutine asks. wireguard-go rebinds from its TUN event
// goroutine when the link goes down and up (and the fresh TUN reports
// "down" at a moment of its own choosing), and that goroutine runs on any
// OS thread, outside the namespace: the socket then listened in the host's
// namespace and no handshake ever arrived. A socket keeps its namespace
// once made, so only Open needs this. (Without PeekLookAtSocketFd the
// sticky-socket route listener, which would also start in the wrong
// namespace, is not started; the server answers from the address a packet
// came to either way.)
type nsBind struct {
	conn.Bind
	d *Device
}

func (b *nsBind) Open(port uint16) (fns []conn.ReceiveFunc, actual uint16, err error) {
	err = b.d.inNS(func() error {
		var e error
		fns, actual, e = b.Bind.Open(port)
		return e
	})
	return fns, actual, err
}

// nsTUN reads the TUN's MTU inside the device's namespace: wireguard-go
// asks by interface name, from its event goroutine, after link changes.
type nsTUN struct {
	tun.Device
	d *Device
}

func (t *nsTUN) MTU() (mtu int, err error) {
	err = t.d.inNS(func() error {
		var e error
		mtu, e = t.Device.MTU()
		return e
	})
	return mtu, err
}

// Kind is KindKernel or KindUserspace.
func (d *Device) Kind() string { return d.kind }

// Name is the interface name.
func (d *Device) Name() string { return d.name }

// PublicKey is the server's WireGuard public key.
func (d *Device) PublicKey() wgtypes.Key { return d.pub }

// AddPeer adds or updates one peer whose only allowed IP is allowed.
func (d *Device) AddPeer(key wgtypes.Key, allowed netip.Prefix) error {
	return d.client.ConfigureDevice(d.name, wgtypes.Config{Peers: []wgtypes.PeerConfig{peerConfig(key, allowed)}})
}

// RemovePeer removes one peer; removing an unknown key is not an error.
func (d *Device) RemovePeer(key wgtypes.Key) error {
	return d.client.ConfigureDevice(d.name, wgtypes.Config{Peers: []wgtypes.PeerConfig{{PublicKey: key, Remove: true}}})
}

// Peers reads every peer's live state (handshake, bytes, endpoint).
func (d *Device) Peers() ([]wgtypes.Peer, error) {
	dev, err := d.client.Device(d.name)
	if err != nil {
		return nil, err
	}
	return dev.Peers, nil
}

// Check is nil while the interface exists and is up (for /readyz).
func (d *Device) Check() error {
	l, err := d.nl.LinkByName(d.name)
	if err != nil {
		return fmt.Errorf("WireGuard interface %s is gone (%v): restart the server", d.name, err)
	}
	if l.Attrs().Flags&net.FlagUp == 0 {
		return fmt.Errorf("WireGuard interface %s is down: restart the server", d.name)
	}
	return nil
}

// Close removes the interface and the UAPI socket.
func (d *Device) Close() error {
	var errs []error
	d.closeOnce.Do(func() {
		if d.client != nil {
			d.client.Close()
		}
		if d.uapi != nil {
			d.uapi.Close() // also unlinks the socket
		}
		if d.wg != nil {
			d.wg.Close() // closes the TUN, which removes the interface
		}
		if d.kind == KindKernel && d.nl != nil {
			if l, err := d.nl.LinkByName(d.name); err == nil {
				if err := d.nl.LinkDel(l); err != nil {
					errs = append(errs, fmt.Errorf("removing interface %s: %w", d.name, err))
				}
			}
		}
		if d.nl != nil {
			d.nl.Close()
		}
		d.nsMu.Lock()
		if d.ns.IsOpen() {
			d.ns.Close()
		}
		d.nsMu.Unlock()
	})
	return errors.Join(errs...)
}
