package daemon

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"time"

	"github.com/ghostwire/ghostwire/app/engine"
	"github.com/ghostwire/ghostwire/app/localapi"
	"github.com/ghostwire/ghostwire/app/osevents"
	"github.com/ghostwire/ghostwire/app/preset"
	"github.com/ghostwire/ghostwire/tunnel"
)

// RunOptions configure Run.
type RunOptions struct {
	StateDir        string // "" means DefaultStateDir
	Socket          string // "" means localapi.SocketPath()
	InterfacePrefix string // "" means "gw"
	DNSMode         tunnel.DNSMode
	Log             *slog.Logger
	// Timing tunes the engines (tests shorten the peer check).
	Timing engine.Timing
}

// prepareStateDir creates the state directory, private to the daemon. An
// OS file may replace it (Windows sets an ACL and checks the owner).
var prepareStateDir = func(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("cannot create the state directory %s: %w", dir, err)
	}
	return nil
}

// Run is `ghostwire daemon`: it undoes what a crashed daemon left behind,
// serves the local API, forwards OS events to the engines, and on ctx's end
// brings every tunnel down and removes the peers from their servers.
func Run(ctx context.Context, o RunOptions) error {
	if o.StateDir == "" {
		o.StateDir = DefaultStateDir
	}
	if o.Socket == "" {
		o.Socket = localapi.SocketPath()
	}
	if o.InterfacePrefix == "" {
		o.InterfacePrefix = "gw"
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	log := o.Log
	if err := checkPrivileged(); err != nil {
		return err
	}
	if err := harden(); err != nil {
		log.Warn("could not keep the daemon out of core dumps", "err", err)
	}
	if err := prepareStateDir(o.StateDir); err != nil {
		return err
	}
	journal := filepath.Join(o.StateDir, "journal")
	if err := tunnel.Recover(journal, log); err != nil {
		// Keep going: the profiles whose interfaces are clean still work.
		log.Error("could not undo everything a previous daemon left behind", "err", err)
	}
	d, err := New(Options{
		StateDir: o.StateDir, InterfacePrefix: o.InterfacePrefix, Log: log, Timing: o.Timing,
		Tunnels:   &Tunnels{JournalDir: journal, DNSMode: o.DNSMode, Log: log},
		NewSignIn: SignInFactory(log),
	})
	if err != nil {
		return err
	}
	applySystemPreset(d, preset.SystemSources(), log)
	l, err := Listen(o.Socket, 0)
	if err != nil {
		return err
	}
	defer os.Remove(o.Socket)

	ours := regexp.MustCompile("^" + regexp.QuoteMeta(o.InterfacePrefix) + `[0-9]+$`)
	// Our interfaces: gw0... by name, and on macOS the utuns the kernel
	// numbered for our tunnels.
	ignore := func(name string) bool { return ours.MatchString(name) || tunnel.OwnsInterface(name) }
	if err := osevents.Watch(ctx, osevents.Options{Ignore: ignore, Log: log, Changed: d.DropConnections}, d.Notify); err != nil {
		log.Warn("some OS signals are not available", "err", err)
	}

	serveCtx, stopServe := context.WithCancel(context.Background())
	defer stopServe()
	served := make(chan error, 1)
	go func() { served <- Serve(serveCtx, l, d, AllowRootAndGroup, log) }()
	log.Info("ghostwire daemon ready", "socket", o.Socket, "state_dir", o.StateDir, "version", Version)

	select {
	case <-ctx.Done():
	case err := <-served:
		shutdown(d, log)
		return fmt.Errorf("the local API stopped: %w", err)
	}
	log.Info("stopping: disconnecting every profile")
	shutdown(d, log)
	stopServe()
	<-served
	log.Info("ghostwire daemon stopped")
	return nil
}

// shutdownTimeout bounds the daemon's shutdown. Each profile's down is
// bounded by the engine (its DELETE by TeardownTimeout, 5 s); this is the
// backstop that lets a stop request always end the process: what a tunnel
// left behind is undone from the journal at the next start.
const shutdownTimeout = 30 * time.Second

func shutdown(d *Daemon, log *slog.Logger) {
	done := make(chan struct{})
	go func() { d.Shutdown(); close(done) }()
	select {
	case <-done:
	case <-time.After(shutdownTimeout):
		log.Error("the profiles did not disconnect in time; stopping anyway (the next start undoes what is left)", "waited", shutdownTimeout)
	}
}
