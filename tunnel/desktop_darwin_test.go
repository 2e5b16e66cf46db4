package tunnel

import "testing"

// TODO(darwin): the darwin issue writes this host (see desktop_system_test.go).
func desktopRun(t *testing.T, f func(*testing.T, desktopHost)) {
	t.Skip("the desktop scenario is not written for darwin yet")
}

func desktopHostFor(t *testing.T) desktopHost {
	t.Skip("the desktop scenario is not written for darwin yet")
	return desktopHost{}
}
