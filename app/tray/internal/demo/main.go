// Command demo runs the real tray against a scripted daemon in a fixed,
// representative state (connected, session close to its end, a second cluster).
// `make tray-screenshot` uses it to photograph the open menu; it is not shipped.
package main

import (
	"context"
	"flag"
	"log"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/ghostwire/ghostwire/app/localapi"
	"github.com/ghostwire/ghostwire/app/tray"
	"github.com/ghostwire/ghostwire/app/tray/internal/scripted"
)

func main() {
	dir := flag.String("dir", os.TempDir(), "folder for the socket and the log")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	end := time.Now().Add(42 * time.Minute)
	hs := time.Now().Add(-3 * time.Second)
	be := scripted.NewWith(
		localapi.Profile{Name: "prod", Server: "https://vpn.example.com", State: localapi.StateConnected,
			User: "alice@example.com", Address: "100.64.0.7/32", SessionExpiresAt: &end, LatestHandshake: &hs},
		localapi.Profile{Name: "staging", Server: "https://vpn.staging.example.com", State: localapi.StateDisconnected},
	)
	sock := filepath.Join(*dir, "ghostwire-demo.sock")
	_ = os.Remove(sock)
	l, err := net.Listen("unix", sock)
	if err != nil {
		log.Fatal(err)
	}
	defer os.Remove(sock)
	go func() { _ = localapi.Serve(ctx, l, be, nil) }()
	if err := tray.Run(ctx, tray.Options{SocketPath: sock, Version: "0.1.0", Logger: slog.Default(),
		LogFile: filepath.Join(*dir, "ghostwire-demo-tray.log")}); err != nil {
		log.Fatal(err)
	}
}
