//go:build !(darwin && !cgo)

package tray

import (
	"context"
	"errors"
	"runtime"
	"time"

	"fyne.io/systray"

	"github.com/ghostwire/ghostwire/app/localapi"
)

// Run shows the tray until ctx ends or the person chooses Quit; then it
// returns nil. Call it from the main goroutine (macOS needs the main thread),
// once per process (fyne.io/systray cannot start twice).
func Run(ctx context.Context, opts Options) error {
	if opts.SocketPath == "" {
		opts.SocketPath = localapi.SocketPath()
	}
	release, warn, err := preflight()
	if err != nil {
		return err
	}
	defer release()
	log, closeLog := setupLog(opts)
	defer closeLog()
	if warn != "" {
		log.Warn(warn)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	c := newController(opts, log, localapi.NewClient(opts.SocketPath), newTrayUI())
	done := make(chan error, 1)
	onReady := func() {
		c.start() // the first menu is there before the bus can ask for it
		go func() {
			done <- c.loop(ctx)
			systray.Quit()
		}()
	}
	go func() {
		<-ctx.Done()
		systray.Quit()
	}()
	log.Info("tray starting", "socket", opts.SocketPath, "version", opts.Version, "os", runtime.GOOS)
	registerLinkHandler(log)
	systray.Run(onReady, cancel)
	cancel()
	select {
	case err := <-done:
		if err != nil && !errors.Is(err, context.Canceled) {
			return err
		}
	case <-time.After(3 * time.Second):
		log.Warn("tray loop did not stop in time")
	}
	log.Info("tray stopped")
	return nil
}
