package tray

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"

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
