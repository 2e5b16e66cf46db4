//go:build !linux && !windows && !darwin

package cli

import "context"

// ensureTray: no menu-bar app on this OS.
func ensureTray(context.Context) error { return nil }
