//go:build !linux && !darwin && !windows

package autostart

import (
	"errors"
	"runtime"
)

var errUnsupported = errors.New("start at login is not supported on " + runtime.GOOS + " yet: add `ghostwire tray` to your session's startup programs")

// Path is not known on this OS.
func Path() (string, error) { return "", errUnsupported }

// Enabled is not supported on this OS.
func Enabled() (bool, error) { return false, errUnsupported }

// Enable is not supported on this OS.
func Enable() error { return errUnsupported }

// Disable is not supported on this OS.
func Disable() error { return errUnsupported }

func optedOut() (bool, error) { return false, nil }
