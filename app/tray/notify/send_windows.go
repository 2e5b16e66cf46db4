package notify

import (
	"context"
	"errors"
	"fmt"
	"os"
	"unsafe"

	"golang.org/x/sys/windows"
)

// NewSender returns a sender that shows a balloon on the tray's own
// notification-area icon; Windows 10 and later show it as a toast, under
// the app's name, with no AppUserModelID, no shortcut and no PowerShell
// (a toast script is what antivirus flagged for NetBird, netbirdio/netbird#2931).
//
// The icon is fyne.io/systray's: a hidden window of class "SystrayClass"
// in this process, icon ID 100 (systray_windows.go). The balloon only
// changes the info fields of that icon (NIF_INFO), never its image or menu.
func NewSender() Sender { return balloonSender{} }

type balloonSender struct{}

const (
	systrayClass  = "SystrayClass"
	systrayIconID = 100

	nimModify            = 0x1
	nifInfo              = 0x10
	niifUser             = 0x4 // the icon of the notification-area icon
	niifNoSound          = 0x10
	niifRespectQuietTime = 0x80 // not while the person is in a full-screen app or quiet hours
)

// notifyIconData is NOTIFYICONDATAW (shellapi.h).
type notifyIconData struct {
	Size                       uint32
	Wnd                        windows.Handle
	ID, Flags, CallbackMessage uint32
	Icon                       windows.Handle
	Tip                        [128]uint16
	State, StateMask           uint32
	Info                       [256]uint16
	Version                    uint32
	InfoTitle                  [64]uint16
	InfoFlags                  uint32
	GUIDItem                   windows.GUID
	BalloonIcon                windows.Handle
}

var (
	user32                       = windows.NewLazySystemDLL("user32.dll")
	procFindWindowExW            = user32.NewProc("FindWindowExW")
	procGetWindowThreadProcessId = user32.NewProc("GetWindowThreadProcessId")
	procShellNotifyIconW         = windows.NewLazySystemDLL("shell32.dll").NewProc("Shell_NotifyIconW")
)

// trayWindow finds the tray's hidden window among the windows of its
// class: other programs built on fyne.io/systray have one too.
func trayWindow() (windows.Handle, error) {
	class, _ := windows.UTF16PtrFromString(systrayClass)
	var after uintptr
	for {
		h, _, _ := procFindWindowExW.Call(0, after, uintptr(unsafe.Pointer(class)), 0)
		if h == 0 {
			return 0, errors.New("the tray icon is not there yet, so Windows has nowhere to show the notification")
		}
		var pid uint32
		_, _, _ = procGetWindowThreadProcessId.Call(h, uintptr(unsafe.Pointer(&pid)))
		if int(pid) == os.Getpid() {
			return windows.Handle(h), nil
		}
		after = h
	}
}

func (balloonSender) Send(_ context.Context, n Notification) error {
	w, err := trayWindow()
	if err != nil {
		return err
	}
	title, body := balloonText(n)
	d := notifyIconData{Wnd: w, ID: systrayIconID, Flags: nifInfo, InfoFlags: niifUser}
	if !n.Urgent {
		d.InfoFlags |= niifRespectQuietTime | niifNoSound
	}
	d.Size = uint32(unsafe.Sizeof(d))
	t16, _ := windows.UTF16FromString(title)
	b16, _ := windows.UTF16FromString(body)
	copy(d.InfoTitle[:len(d.InfoTitle)-1], t16)
	copy(d.Info[:len(d.Info)-1], b16)
	if r, _, e := procShellNotifyIconW.Call(nimModify, uintptr(unsafe.Pointer(&d))); r == 0 {
		return fmt.Errorf("Windows did not show the notification: %v", e)
	}
	return nil
}

func (balloonSender) Close() error { return nil }
