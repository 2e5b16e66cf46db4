package notify

import (
	"context"
	"strings"
	"testing"
	"unsafe"

	"golang.org/x/sys/windows"
)

var (
	procRegisterClassExW = user32.NewProc("RegisterClassExW")
	procCreateWindowExW  = user32.NewProc("CreateWindowExW")
	procDestroyWindow    = user32.NewProc("DestroyWindow")
	procDefWindowProcW   = user32.NewProc("DefWindowProcW")
)

type wndClassEx struct {
	Size, Style                        uint32
	WndProc                            uintptr
	ClsExtra, WndExtra                 int32
	Instance, Icon, Cursor, Background windows.Handle
	MenuName, ClassName                *uint16
	IconSm                             windows.Handle
}

// Without the tray's icon there is nowhere to show a balloon: a clear error.
// With a window of systray's class holding icon 100 (as fyne.io/systray
// makes it), the balloon goes onto that icon. Under Wine the shell accepts
// the icon when it can make windows at all; whether Windows shows the toast
// is seen only on a desktop.
func TestWindowsBalloon(t *testing.T) {
	err := NewSender().Send(context.Background(), Notification{Title: "Connected", Body: "prod"})
	if err == nil || !strings.Contains(err.Error(), "tray icon is not there") {
		t.Fatalf("without a tray: %v", err)
	}
	class, _ := windows.UTF16PtrFromString(systrayClass)
	wc := wndClassEx{ClassName: class, WndProc: windows.NewCallback(func(h, m, w, l uintptr) uintptr {
		r, _, _ := procDefWindowProcW.Call(h, m, w, l)
		return r
	})}
	wc.Size = uint32(unsafe.Sizeof(wc))
	if r, _, e := procRegisterClassExW.Call(uintptr(unsafe.Pointer(&wc))); r == 0 {
		t.Skipf("no window class here (%v): the balloon itself is seen only on a Windows desktop", e)
	}
	h, _, e := procCreateWindowExW.Call(0, uintptr(unsafe.Pointer(class)), 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
	if h == 0 {
		t.Skipf("no window here (%v): the balloon itself is seen only on a Windows desktop", e)
	}
	defer procDestroyWindow.Call(h)
	d := notifyIconData{Wnd: windows.Handle(h), ID: systrayIconID}
	d.Size = uint32(unsafe.Sizeof(d))
	if r, _, e := procShellNotifyIconW.Call(0 /* NIM_ADD */, uintptr(unsafe.Pointer(&d))); r == 0 {
		t.Skipf("no notification area here (%v): the balloon itself is seen only on a Windows desktop", e)
	}
	defer procShellNotifyIconW.Call(2 /* NIM_DELETE */, uintptr(unsafe.Pointer(&d)))
	if got, err := trayWindow(); err != nil || got != windows.Handle(h) {
		t.Fatalf("found window %v %v, want %v", got, err, h)
	}
	if err := NewSender().Send(context.Background(), Notification{Title: strings.Repeat("long title ", 10), Body: "prod"}); err != nil {
		t.Fatalf("balloon on the tray icon: %v", err)
	}
}
