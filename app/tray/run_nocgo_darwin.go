//go:build darwin && !cgo

package tray

import (
	"context"

	"github.com/ghostwire/ghostwire/app/localapi"
)

// Run cannot show a menu-bar app in this build: on macOS, fyne.io/systray
// needs cgo (Cocoa). Build on a Mac with CGO_ENABLED=1.
func Run(ctx context.Context, opts Options) error {
	return localapi.Errorf(localapi.CodeUnsupportedOS,
		"this ghostwire was built without cgo, and the macOS menu-bar app needs it: build it on a Mac with CGO_ENABLED=1 (the commands work meanwhile)")
}
