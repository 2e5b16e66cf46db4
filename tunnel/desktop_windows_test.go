package tunnel

import "testing"

// TODO(windows): the windows issue writes this host (see desktop_system_test.go).
func desktopRun(t *testing.T, f func(*testing.T, desktopHost)) {
	t.Skip("the desktop scenario is not written for windows yet")
}

func desktopHostFor(t *testing.T) desktopHost {
	t.Skip("the desktop scenario is not written for windows yet")
	return desktopHost{}
}
