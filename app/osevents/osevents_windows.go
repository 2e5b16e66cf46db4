package osevents

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"runtime"
	"sync"
	"time"
	"unsafe"

	"golang.org/x/sys/windows"
	"golang.zx2c4.com/wireguard/windows/tunnel/winipcfg"
)

// On Windows: resume from PowerRegisterSuspendResumeNotification (Windows
// 8+, S3 sleep and Modern Standby alike; the service manager's power
// events do not arrive on Modern Standby machines), network changes from
// the IP Helper's route, address and interface callbacks through
// noteFilter and the debouncer.
func start(ctx context.Context, opt Options, wake, netChange func()) error {
	var errs []error
	if err := watchPower(ctx, opt, wake); err != nil {
		errs = append(errs, fmt.Errorf("resume notifications are not available (%w); sleep is still noticed by the clock", err))
	}
	if err := watchNetwork(ctx, opt, netChange); err != nil {
		errs = append(errs, fmt.Errorf("network change notifications are not available: %w", err))
	}
	return errors.Join(errs...)
}

var (
	powrprof                                     = windows.NewLazySystemDLL("powrprof.dll")
	procPowerRegisterSuspendResumeNotification   = powrprof.NewProc("PowerRegisterSuspendResumeNotification")
	procPowerUnregisterSuspendResumeNotification = powrprof.NewProc("PowerUnregisterSuspendResumeNotification")
)

// Power broadcast types (winuser.h).
const (
	pbtSuspend         = 0x4
	pbtResumeSuspend   = 0x7
	pbtResumeAutomatic = 0x12

	deviceNotifyCallback = 2
)

// DEVICE_NOTIFY_SUBSCRIBE_PARAMETERS
type deviceNotifySubscribe struct {
	callback uintptr
	context  uintptr
}

// Callbacks made by windows.NewCallback are never freed, so there is one
// for the process; it dispatches by the context value to the watchers.
var power struct {
	once     sync.Once
	callback uintptr
	mu       sync.Mutex
	next     uintptr
	watchers map[uintptr]func(uint32)
}

func powerEvent(ctx uintptr, typ uint32, _ uintptr) uintptr {
	power.mu.Lock()
	f := power.watchers[ctx]
	power.mu.Unlock()
	if f != nil {
		f(typ)
	}
	return 0
}

func watchPower(ctx context.Context, opt Options, wake func()) error {
	if err := procPowerRegisterSuspendResumeNotification.Find(); err != nil {
		return err
	}
	power.once.Do(func() {
		power.callback = windows.NewCallback(powerEvent)
		power.watchers = map[uintptr]func(uint32){}
	})
	dedup := &wakeDedup{window: 10 * time.Second, now: time.Now}
	power.mu.Lock()
	power.next++
	id := power.next
	power.watchers[id] = func(typ uint32) {
		switch typ {
		case pbtSuspend:
			opt.Log.Info("the machine is going to sleep")
		case pbtResumeAutomatic, pbtResumeSuspend:
			if dedup.first() {
				opt.Log.Info("the machine resumed from sleep")
				go wake() // never block Windows' notification thread
			}
		}
	}
	power.mu.Unlock()
	params := &deviceNotifySubscribe{callback: power.callback, context: id}
	var handle uintptr
	r, _, _ := procPowerRegisterSuspendResumeNotification.Call(deviceNotifyCallback, uintptr(unsafe.Pointer(params)), uintptr(unsafe.Pointer(&handle)))
	if r != 0 {
		power.mu.Lock()
		delete(power.watchers, id)
		power.mu.Unlock()
		return fmt.Errorf("PowerRegisterSuspendResumeNotification: %w", windows.Errno(r))
	}
	go func() {
		<-ctx.Done()
		_, _, _ = procPowerUnregisterSuspendResumeNotification.Call(handle)
		power.mu.Lock()
		delete(power.watchers, id)
		power.mu.Unlock()
		runtime.KeepAlive(params) // registered with Windows until here
	}()
	return nil
}

// aliases caches interface names by LUID; callbacks run often.
type aliases struct {
	mu sync.Mutex
	m  map[winipcfg.LUID]string
}

func (a *aliases) of(luid winipcfg.LUID) string {
	a.mu.Lock()
	defer a.mu.Unlock()
	if n, ok := a.m[luid]; ok {
		return n
	}
	row, err := luid.Interface()
	if err != nil {
		return "" // gone already: its removal still counts
	}
	n := row.Alias()
	a.m[luid] = n
	return n
}

func watchNetwork(ctx context.Context, opt Options, netChange func()) error {
	f := newNoteFilter(opt.Ignore)
	names := &aliases{m: map[winipcfg.LUID]string{}}
	note := func(n netNote) {
		if f.counts(n) {
			opt.Log.Debug("network change", "kind", n.kind, "change", n.change, "interface", n.iface)
			netChange()
		}
	}
	route, err := winipcfg.RegisterRouteChangeCallback(func(t winipcfg.MibNotificationType, r *winipcfg.MibIPforwardRow2) {
		if r == nil {
			return
		}
		p := r.DestinationPrefix.Prefix()
		note(netNote{kind: noteRoute, change: changeOf(t), iface: names.of(r.InterfaceLUID),
			defaultRoute: p.IsValid() && p.Bits() == 0, ifaceKey: uint64(r.InterfaceLUID)})
	})
	if err != nil {
		return fmt.Errorf("route changes: %w", err)
	}
	addr, err := winipcfg.RegisterUnicastAddressChangeCallback(func(t winipcfg.MibNotificationType, a *winipcfg.MibUnicastIPAddressRow) {
		if a == nil {
			return
		}
		if ip := a.Address.Addr(); ip.IsValid() && (ip.IsLinkLocalUnicast() || ip == netip.IPv6Loopback()) {
			return // link-local addresses come and go with every adapter
		}
		note(netNote{kind: noteAddress, change: changeOf(t), iface: names.of(a.InterfaceLUID), ifaceKey: uint64(a.InterfaceLUID)})
	})
	if err != nil {
		_ = route.Unregister()
		return fmt.Errorf("address changes: %w", err)
	}
	ifc, err := winipcfg.RegisterInterfaceChangeCallback(func(t winipcfg.MibNotificationType, i *winipcfg.MibIPInterfaceRow) {
		if i == nil {
			return
		}
		note(netNote{kind: noteInterface, change: changeOf(t), iface: names.of(i.InterfaceLUID),
			connected: i.Connected, ifaceKey: uint64(i.InterfaceLUID)})
	})
	if err != nil {
		_ = route.Unregister()
		_ = addr.Unregister()
		return fmt.Errorf("interface changes: %w", err)
	}
	go func() {
		<-ctx.Done()
		_ = route.Unregister()
		_ = addr.Unregister()
		_ = ifc.Unregister()
	}()
	return nil
}

func changeOf(t winipcfg.MibNotificationType) noteChange {
	switch t {
	case winipcfg.MibAddInstance:
		return changeAdd
	case winipcfg.MibDeleteInstance:
		return changeDelete
	case winipcfg.MibInitialNotification:
		return changeInitial
	}
	return changeParameter
}
