// Command ghostwire is the client: `ghostwire up | down | status | login |
// logout` talk to the daemon (`ghostwire daemon`, root), and without a
// command on a desktop it starts the menu-bar app.
package main

import (
	"context"
	"os"

	"github.com/ghostwire/ghostwire/app/cli"
	"github.com/ghostwire/ghostwire/app/daemon"
)

func main() {
	app := &cli.App{Version: daemon.Version, Tray: runTray}
	os.Exit(app.Run(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
}
