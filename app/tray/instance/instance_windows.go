package instance

import (
	"errors"

	"golang.org/x/sys/windows"
)

// mutexName is session-local (Local\): one tray per logged-on session,
// as the notification area is.
const mutexName = `Local\com.ghostwire.Tray`

// Acquire marks the menu-bar app as running in this session until release
// is called (or the process ends); ErrRunning when one already does.
func Acquire() (release func(), err error) {
	name, _ := windows.UTF16PtrFromString(mutexName)
	h, err := windows.CreateMutex(nil, false, name)
	if errors.Is(err, windows.ERROR_ALREADY_EXISTS) {
		if h != 0 {
			windows.CloseHandle(h)
		}
		return nil, ErrRunning
	}
	if err != nil {
		return nil, err
	}
	return func() { windows.CloseHandle(h) }, nil
}

// Running reports whether the menu-bar app runs in this session.
func Running() bool {
	name, _ := windows.UTF16PtrFromString(mutexName)
	h, err := windows.OpenMutex(windows.SYNCHRONIZE, false, name)
	if err != nil {
		return false
	}
	windows.CloseHandle(h)
	return true
}
