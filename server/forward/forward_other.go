//go:build !linux

package forward

import (
	"errors"
	"runtime"
)

// Rules are the installed rules. The server runs on Linux only.
type Rules struct{}

var errOS = errors.New("forwarding rules are not supported on " + runtime.GOOS + " yet: run the server on Linux (it runs in a Kubernetes Pod)")

// Install fails: not supported on this OS.
func Install(Options) (*Rules, error) { return nil, errOS }

// Status fails: not supported on this OS.
func (r *Rules) Status() error { return errOS }

// Remove fails: not supported on this OS.
func (r *Rules) Remove() error { return errOS }
