package tray

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"fyne.io/systray"

	"github.com/ghostwire/ghostwire/app/localapi"
	"github.com/ghostwire/ghostwire/app/tray/desktop"
	"github.com/ghostwire/ghostwire/app/tray/menu"
	"github.com/ghostwire/ghostwire/app/tray/notify"
)

// Options configure Run. The zero value works.
type Options struct {
	// SocketPath is the daemon's local API socket; default localapi.SocketPath().
	SocketPath string
	// Logger receives the tray's logs; default: text on stderr. Records also go
	// to LogFile.
	Logger *slog.Logger
	// Version is the app's version, shown in About.
	Version string
	// LogFile is where the tray writes its log and what "Open log" opens;
	// default <user cache dir>/ghostwire/tray.log. "-" disables the file.
	LogFile string
}

// retryEvery is how often the tray looks for a daemon that is not running.
const retryEvery = 2 * time.Second

// Run shows the tray until ctx ends or the person chooses Quit; then it
// returns nil. Call it from the main goroutine (macOS needs the main thread),
// once per process (fyne.io/systray cannot start twice).
func Run(ctx context.Context, opts Options) error {
	if opts.SocketPath == "" {
		opts.SocketPath = localapi.SocketPath()
	}
	log, closeLog := setupLog(opts)
	defer closeLog()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	c := newController(ctx, opts, log, localapi.NewClient(opts.SocketPath), newTrayUI())
	done := make(chan error, 1)
	onReady := func() {
		systray.SetTitle("Ghostwire")
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

// setupLog tees the tray's records to opts.Logger (or stderr) and LogFile.
func setupLog(opts Options) (*slog.Logger, func()) {
	base := opts.Logger
	if base == nil {
		base = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	path := LogFile(opts)
	if path == "" {
		return base, func() {}
	}
	f, err := openLogFile(path)
	if err != nil {
		base.Warn("tray log file not written", "err", err)
		return base, func() {}
	}
	h := slog.NewMultiHandler(base.Handler(), slog.NewTextHandler(f, nil))
	return slog.New(h), func() { f.Close() }
}

// LogFile is the file the tray logs to and "Open log" opens ("" if none).
func LogFile(opts Options) string {
	switch opts.LogFile {
	case "-":
		return ""
	case "":
		dir, err := os.UserCacheDir()
		if err != nil {
			return ""
		}
		return filepath.Join(dir, "ghostwire", "tray.log")
	default:
		return opts.LogFile
	}
}

// maxLogBytes bounds the log: past it, the old log is kept as tray.log.old.
const maxLogBytes = 1 << 20

func openLogFile(path string) (io.WriteCloser, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("cannot create %s: %w", filepath.Dir(path), err)
	}
	if fi, err := os.Stat(path); err == nil && fi.Size() > maxLogBytes {
		_ = os.Rename(path, path+".old")
	}
	return os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
}

// howToStart is menu.HowToStart for this OS, for messages.
func howToStart() string { return menu.HowToStart(runtime.GOOS) }

func newDesktop() desktop.Desktop {
	return desktop.Desktop{GOOS: runtime.GOOS, Env: os.Getenv, Look: lookPath}
}

func newSender() notify.Sender { return notify.NewSender() }
