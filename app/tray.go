//go:build !(darwin && !cgo)

package main

import (
	"context"

	"github.com/ghostwire/ghostwire/app/daemon"
	"github.com/ghostwire/ghostwire/app/tray"
)

func runTray(ctx context.Context, socket string) error {
	return tray.Run(ctx, tray.Options{SocketPath: socket, Version: daemon.Version})
}
