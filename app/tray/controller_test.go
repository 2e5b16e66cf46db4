package tray

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"

	"github.com/ghostwire/ghostwire/app/localapi"
	"github.com/ghostwire/ghostwire/app/tray/desktop"
	"github.com/ghostwire/ghostwire/app/tray/internal/scripted"
	"github.com/ghostwire/ghostwire/app/tray/menu"
	"github.com/ghostwire/ghostwire/server/api"
)

// recordingUI stands in for the systray glue (tested over D-Bus in
// TestDesktopBus): it keeps the last model and lets the test click.
type recordingUI struct {
	mu     sync.Mutex
	last   menu.Model
	clicks chan string
}

func (u *recordingUI) Render(m menu.Model) {
	u.mu.Lock()
	u.last = m
	u.mu.Unlock()
}

func (u *recordingUI) Clicks() <-chan string { return u.clicks }

func (u *recordingUI) status() string {
	u.mu.Lock()
	defer u.mu.Unlock()
	it, _ := u.last.Item(menu.IDStatus)
	return it.Title
}

// The controller with a real local API server: status comes only from Watch,
// a click becomes the daemon call, and a daemon that stops and comes back is
// followed without anyone doing anything.
func TestControllerFollowsTheDaemon(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("HOME", dir)
	t.Setenv("XDG_CONFIG_HOME", filepath.Join(dir, "config"))
	t.Setenv("DBUS_SESSION_BUS_ADDRESS", "unix:path="+filepath.Join(dir, "no-bus")) // notifications fail quietly
	sock := filepath.Join(dir, "gw.sock")
	be := scripted.New()
	stop := serveDaemon(t, sock, be)
	defer func() { stop() }()

	ui := &recordingUI{clicks: make(chan string)}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	c := newController(Options{SocketPath: sock, Version: "t"}, log, localapi.NewClient(sock), ui)
	var opened []string
	c.openURL = func(u string) error { opened = append(opened, u); return nil }
	ask := filepath.Join(dir, "zenity")
	if err := os.WriteFile(ask, []byte("#!/bin/sh\necho vpn.new.example\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	c.desk = desktop.Desktop{GOOS: "linux", Env: os.Getenv, Look: func(n string) (string, error) {
		if n == "zenity" {
			return ask, nil // stands in for the dialog a person would type into
		}
		return "", exec.ErrNotFound
	}}
	c.in.DialogAvailable = c.desk.CanAsk()
	// The new server's /v1/config (the server itself is not this test's subject).
	c.serverConfig = func(_ context.Context, server string) (api.Config, error) {
		if server != "https://vpn.new.example" {
			return api.Config{}, fmt.Errorf("unexpected server %s", server)
		}
		return api.Config{ServerName: "new"}, nil
	}
	c.start()
	if got := ui.status(); got != "Looking for the ghostwire service…" {
		t.Fatalf("first menu, before Watch answers: %q", got)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.loop(ctx) }()
	eventually(t, "the first status from Watch", func() (bool, string) { return ui.status() == "Disconnected", ui.status() })

	ui.clicks <- menu.IDConnect
	eventually(t, "connected", func() (bool, string) { return ui.status() == "Connected to prod", ui.status() })
	if calls := be.Calls(); fmt.Sprint(calls) != "[up:prod]" {
		t.Errorf("calls %v", calls)
	}

	stop()
	eventually(t, "daemon gone", func() (bool, string) {
		return ui.status() == "Ghostwire service is not running", ui.status()
	})
	stop = serveDaemon(t, sock, be)
	eventually(t, "daemon back", func() (bool, string) { return ui.status() == "Connected to prod", ui.status() })

	// A click on a hidden item does nothing (the menu may lag one update).
	ui.clicks <- menu.IDConnect
	ui.clicks <- menu.IDDisconnect
	eventually(t, "disconnected", func() (bool, string) { return ui.status() == "Disconnected", ui.status() })
	if calls := be.Calls(); fmt.Sprint(calls) != "[up:prod down:prod]" {
		t.Errorf("calls %v: the hidden Connect must not have been sent", calls)
	}

	// Add cluster: the dialog's answer becomes a new profile named after the host.
	ui.clicks <- menu.IDAddCluster
	eventually(t, "the new cluster connected", func() (bool, string) {
		ui.mu.Lock()
		defer ui.mu.Unlock()
		it, ok := ui.last.Item(menu.ProfileID("vpn-new-example"))
		return ok && it.Checked && it.Title == "vpn-new-example — connected", fmt.Sprintf("%+v", ui.last.Items)
	})
	if calls := be.Calls(); fmt.Sprint(calls) != "[up:prod down:prod up:vpn-new-example]" {
		t.Errorf("calls %v", calls)
	}

	ui.clicks <- menu.IDQuit
	if err := <-done; err != nil {
		t.Fatalf("loop after Quit: %v", err)
	}
	cancel()
	if len(opened) != 0 {
		t.Errorf("no sign-in was asked, yet the browser opened %v", opened)
	}
}
