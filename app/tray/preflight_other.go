//go:build !linux

package tray

// preflight has nothing to check here: the menu bar and notification area are
// always there on macOS and Windows.
func preflight() (release func(), warn string, err error) { return func() {}, "", nil }
