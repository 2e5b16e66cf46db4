//go:build linux

// Package helper holds the small programs the e2e topology runs inside its
// namespaces: a tiny HTTP service (a cluster's "prometheus" and ingress) and a
// stock wireguard-go device driven by the `wg` tool. They run as the test
// binary (or the demo program) re-executed with GWE_HELPER set, so no extra
// binary has to be built.
package helper

import (
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"golang.zx2c4.com/wireguard/conn"
	"golang.zx2c4.com/wireguard/device"
	"golang.zx2c4.com/wireguard/ipc"
	"golang.zx2c4.com/wireguard/tun"

	"github.com/ghostwire/ghostwire/e2e/topo"
)

// Main runs the helper named by $GWE_HELPER and exits; it returns at once when
// the variable is not set, so callers put it first in main or TestMain.
func Main() {
	name := os.Getenv(topo.HelperEnv)
	if name == "" {
		return
	}
	os.Unsetenv(topo.HelperEnv)
	var err error
	switch name {
	case "http":
		err = serveHTTP(os.Args[1:])
	case "wg":
		err = runWireGuard(os.Args[1:])
	case "tcplb":
		err = serveTCPLB(os.Args[1:])
	default:
		err = fmt.Errorf("unknown helper %q (want http, wg or tcplb)", name)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "helper %s: %v\n", name, err)
		os.Exit(1)
	}
	os.Exit(0)
}

// serveHTTP answers GET <path> with a fixed body, like a cluster service.
func serveHTTP(args []string) error {
	fs := flag.NewFlagSet("http", flag.ContinueOnError)
	listen := fs.String("listen", "", "ip:port to listen on")
	path := fs.String("path", "/", "path that answers 200")
	body := fs.String("body", "ok\n", "body of the answer")
	if err := fs.Parse(args); err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.HandleFunc(*path, func(w http.ResponseWriter, r *http.Request) {
		if *path != "/" && r.URL.Path != *path {
			http.NotFound(w, r)
			return
		}
		slog.Info("request", "from", r.RemoteAddr, "host", r.Host, "path", r.URL.Path)
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		fmt.Fprint(w, *body)
	})
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	slog.Info("listening", "addr", ln.Addr().String(), "path", *path)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		waitSignal()
		srv.Close()
	}()
	if err := srv.Serve(ln); err != http.ErrServerClosed {
		return err
	}
	return nil
}

// runWireGuard runs a plain wireguard-go device with its UAPI socket, exactly
// what the wireguard-go command does, so the stock `wg` tool configures it.
func runWireGuard(args []string) error {
	fs := flag.NewFlagSet("wg", flag.ContinueOnError)
	name := fs.String("name", "", "interface name (≤ 15 chars)")
	mtu := fs.Int("mtu", 1420, "MTU")
	if err := fs.Parse(args); err != nil {
		return err
	}
	tdev, err := tun.CreateTUN(*name, *mtu)
	if err != nil {
		return fmt.Errorf("create TUN %s: %w", *name, err)
	}
	dev := device.NewDevice(tdev, conn.NewDefaultBind(), device.NewLogger(device.LogLevelError, "("+*name+") "))
	uapiFile, err := ipc.UAPIOpen(*name)
	if err != nil {
		dev.Close()
		return fmt.Errorf("open UAPI socket: %w", err)
	}
	uapi, err := ipc.UAPIListen(*name, uapiFile)
	if err != nil {
		dev.Close()
		return fmt.Errorf("listen on UAPI socket: %w", err)
	}
	go func() {
		for {
			c, err := uapi.Accept()
			if err != nil {
				return
			}
			go dev.IpcHandle(c)
		}
	}()
	slog.Info("wireguard-go device up", "name", *name)
	go func() {
		waitSignal()
		uapi.Close()
		dev.Close()
	}()
	<-dev.Wait()
	uapi.Close()
	return nil
}

func waitSignal() {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGTERM, syscall.SIGINT)
	<-ch
}
