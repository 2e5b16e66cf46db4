//go:build darwin && !cgo

package main

import "context"

// The macOS menu-bar app needs cgo; a CGO_ENABLED=0 build has commands only.
var runTray func(ctx context.Context, socket string) error
