// Package instance keeps the menu-bar app to one per person and session on
// Windows and macOS, and lets `ghostwire open-link` ask whether it runs (on
// Linux the tray's session-bus name does both: app/tray). It has no
// dependency on the tray's UI, so the CLI, which builds without cgo on
// macOS, can use it.
package instance

import "errors"

// ErrRunning is returned by Acquire when the menu-bar app already runs.
var ErrRunning = errors.New("the Ghostwire menu is already running (look for the ghost icon)")
