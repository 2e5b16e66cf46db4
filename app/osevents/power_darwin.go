package osevents

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"time"
	"unsafe"

	"github.com/ebitengine/purego"
)

// Sleep and wake from IOKit's IORegisterForSystemPower, called through
// purego so that the daemon stays a CGO_ENABLED=0 build. The notification
// port runs on a CFRunLoop on its own locked OS thread. Every sleep notice
// is acknowledged at once (IOAllowPowerChange): macOS otherwise holds the
// sleep for up to 30 s waiting for us.

type iokitLib struct {
	IORegisterForSystemPower           func(refcon uintptr, port *uintptr, callback uintptr, notifier *uint32) uint32
	IODeregisterForSystemPower         func(notifier *uint32) int32
	IOAllowPowerChange                 func(kernelPort uint32, notificationID uintptr) int32
	IOServiceClose                     func(connect uint32) int32
	IONotificationPortGetRunLoopSource func(port uintptr) uintptr
	IONotificationPortDestroy          func(port uintptr)
	CFRunLoopGetCurrent                func() uintptr
	CFRunLoopAddSource                 func(rl, source, mode uintptr)
	CFRunLoopRun                       func()
	CFRunLoopStop                      func(rl uintptr)
	commonModes                        uintptr
}

var (
	iokit     iokitLib
	iokitErr  error
	iokitOnce sync.Once
	// The callback is created once: purego's callbacks are never freed.
	powerCallback uintptr

	powerMu     sync.Mutex
	powerRoot   uint32 // the root power domain connection, for acknowledgements
	powerHandle func(msg uint32) powerAction
	powerWake   func(slept time.Duration)
)

func loadIOKit() error {
	iokitOnce.Do(func() {
		iokitErr = func() (err error) {
			defer func() { // RegisterLibFunc panics on a missing symbol
				if r := recover(); r != nil {
					err = fmt.Errorf("%v", r)
				}
			}()
			io, err := purego.Dlopen("/System/Library/Frameworks/IOKit.framework/IOKit", purego.RTLD_NOW|purego.RTLD_GLOBAL)
			if err != nil {
				return err
			}
			cf, err := purego.Dlopen("/System/Library/Frameworks/CoreFoundation.framework/CoreFoundation", purego.RTLD_NOW|purego.RTLD_GLOBAL)
			if err != nil {
				return err
			}
			purego.RegisterLibFunc(&iokit.IORegisterForSystemPower, io, "IORegisterForSystemPower")
			purego.RegisterLibFunc(&iokit.IODeregisterForSystemPower, io, "IODeregisterForSystemPower")
			purego.RegisterLibFunc(&iokit.IOAllowPowerChange, io, "IOAllowPowerChange")
			purego.RegisterLibFunc(&iokit.IOServiceClose, io, "IOServiceClose")
			purego.RegisterLibFunc(&iokit.IONotificationPortGetRunLoopSource, io, "IONotificationPortGetRunLoopSource")
			purego.RegisterLibFunc(&iokit.IONotificationPortDestroy, io, "IONotificationPortDestroy")
			purego.RegisterLibFunc(&iokit.CFRunLoopGetCurrent, cf, "CFRunLoopGetCurrent")
			purego.RegisterLibFunc(&iokit.CFRunLoopAddSource, cf, "CFRunLoopAddSource")
			purego.RegisterLibFunc(&iokit.CFRunLoopRun, cf, "CFRunLoopRun")
			purego.RegisterLibFunc(&iokit.CFRunLoopStop, cf, "CFRunLoopStop")
			sym, err := purego.Dlsym(cf, "kCFRunLoopCommonModes")
			if err != nil {
				return err
			}
			// sym is the address of a CFStringRef variable in CoreFoundation;
			// read the variable (through a Go pointer, which vet accepts).
			iokit.commonModes = **(**uintptr)(unsafe.Pointer(&sym))
			if iokit.commonModes == 0 {
				return errors.New("kCFRunLoopCommonModes is empty")
			}
			powerCallback = purego.NewCallback(onPowerMessage)
			return nil
		}()
	})
	return iokitErr
}

// onPowerMessage is IOKit's IOServiceInterestCallback, on the run-loop
// thread. It must return quickly and must not panic into C.
func onPowerMessage(refcon, service, messageType, messageArgument uintptr) uintptr {
	defer func() { _ = recover() }()
	powerMu.Lock()
	handle, wake, root := powerHandle, powerWake, powerRoot
	powerMu.Unlock()
	if handle == nil {
		return 0
	}
	a := handle(uint32(messageType)) // natural_t: only the low 32 bits are defined
	if a.ack && root != 0 {
		iokit.IOAllowPowerChange(root, messageArgument)
	}
	if a.wake && wake != nil {
		go wake(a.slept)
	}
	return 0
}

// watchPower reports every resume until ctx ends.
func watchPower(ctx context.Context, wake func(slept time.Duration)) error {
	if err := loadIOKit(); err != nil {
		return fmt.Errorf("cannot load IOKit: %w", err)
	}
	tracker := newPowerTracker(time.Now)
	ready := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // the run loop belongs to this thread
		defer runtime.UnlockOSThread()
		var port uintptr
		var notifier uint32
		root := iokit.IORegisterForSystemPower(0, &port, powerCallback, &notifier)
		if root == 0 {
			ready <- errors.New("IORegisterForSystemPower refused the registration")
			return
		}
		powerMu.Lock()
		powerRoot, powerHandle, powerWake = root, tracker.handle, wake
		powerMu.Unlock()
		rl := iokit.CFRunLoopGetCurrent()
		iokit.CFRunLoopAddSource(rl, iokit.IONotificationPortGetRunLoopSource(port), iokit.commonModes)
		go func() {
			<-ctx.Done()
			iokit.CFRunLoopStop(rl)
		}()
		ready <- nil
		if ctx.Err() == nil {
			iokit.CFRunLoopRun() // until CFRunLoopStop
		}
		powerMu.Lock()
		powerRoot, powerHandle, powerWake = 0, nil, nil
		powerMu.Unlock()
		iokit.IODeregisterForSystemPower(&notifier)
		iokit.IOServiceClose(root)
		iokit.IONotificationPortDestroy(port)
	}()
	return <-ready
}
