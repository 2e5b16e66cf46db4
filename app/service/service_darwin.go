package service

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/ghostwire/ghostwire/internal/atomicfile"
)

const launchctl = "/bin/launchctl"

// Install registers the daemon as a LaunchDaemon and starts it: the job is
// written to /Library/LaunchDaemons, loaded into the system domain with
// `launchctl bootstrap`, and started at once (RunAtLoad) and at every boot.
// A program that is not root's alone (in a user's folder, say) is first
// copied to MacHelperPath: root must never run a file someone else can
// replace.
func Install(spec Spec) error {
	if os.Geteuid() != 0 {
		return errors.New("installing the system service needs an administrator: run `sudo ghostwire daemon install`")
	}
	exe, err := helperPath(spec.Executable)
	if err != nil {
		return err
	}
	spec.Executable = exe
	job, err := LaunchDaemonPlist(spec)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(MacLogDir, 0o755); err != nil {
		return fmt.Errorf("cannot create the log folder %s: %w", MacLogDir, err)
	}
	// A job already loaded (an earlier install) is replaced.
	_ = bootout()
	if err := writeRootFile(LaunchDaemonPath, job, 0o644); err != nil {
		return err
	}
	if out, err := run(launchctl, "bootstrap", "system", LaunchDaemonPath); err != nil {
		return fmt.Errorf("launchd did not take the ghostwire service (%s): %v", out, err)
	}
	if err := waitRunning(10 * time.Second); err != nil {
		return fmt.Errorf("the ghostwire service is installed but does not run: %w (see %s)", err, filepath.Join(MacLogDir, "daemon.log"))
	}
	return nil
}

// Uninstall stops the daemon (it disconnects every profile and restores
// routes and DNS on the way out) and removes its job and copied program.
// The profiles' settings in the state folder stay.
func Uninstall() error {
	if os.Geteuid() != 0 {
		return errors.New("removing the system service needs an administrator: run `sudo ghostwire daemon uninstall`")
	}
	if err := bootout(); err != nil {
		return err
	}
	for _, p := range []string{LaunchDaemonPath, MacHelperPath} {
		if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("cannot remove %s: %w", p, err)
		}
	}
	_ = os.Remove(filepath.Dir(MacHelperPath))
	return nil
}

// Run runs fn until SIGINT or SIGTERM (launchd stops a job with SIGTERM).
func Run(ctx context.Context, fn Runner) error {
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	return fn(ctx)
}

// helperPath returns exe when it is root's alone, else copies it to
// MacHelperPath.
func helperPath(exe string) (string, error) {
	if real, err := filepath.EvalSymlinks(exe); err == nil {
		exe = real
	}
	// admin (80) may write /Applications, and can become root anyway.
	if err := rootOnly(exe, 0, 80); err == nil {
		return exe, nil
	}
	if exe == MacHelperPath {
		return "", fmt.Errorf("%s is not root's alone: fix its owner and mode (root:wheel, 0755)", exe)
	}
	src, err := os.Open(exe)
	if err != nil {
		return "", fmt.Errorf("cannot read this program to install it: %w", err)
	}
	defer src.Close()
	if err := os.MkdirAll(filepath.Dir(MacHelperPath), 0o755); err != nil {
		return "", fmt.Errorf("cannot create %s: %w", filepath.Dir(MacHelperPath), err)
	}
	var buf bytes.Buffer
	if _, err := io.Copy(&buf, src); err != nil {
		return "", err
	}
	if err := writeRootFile(MacHelperPath, buf.Bytes(), 0o755); err != nil {
		return "", err
	}
	if err := rootOnly(MacHelperPath, 0, 80); err != nil {
		return "", fmt.Errorf("the copied program is not root's alone: %w", err)
	}
	return MacHelperPath, nil
}

// writeRootFile writes path atomically, owned by root:wheel.
func writeRootFile(path string, b []byte, mode os.FileMode) error {
	if err := atomicfile.Write(path, b, mode, &atomicfile.Owner{UID: 0, GID: 0}); err != nil {
		return fmt.Errorf("cannot install %s: %w", path, err)
	}
	return nil
}

// bootout unloads the job (launchd stops it first); a job that is not
// loaded is fine.
func bootout() error {
	out, err := run(launchctl, "bootout", "system/"+LaunchdLabel)
	if err == nil {
		return nil
	}
	// 3 / 113: "No such process" / "Could not find specified service".
	if strings.Contains(out, "No such process") || strings.Contains(out, "Could not find") || strings.Contains(out, "not find service") {
		return nil
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) && (ee.ExitCode() == 3 || ee.ExitCode() == 113) {
		return nil
	}
	return fmt.Errorf("launchd did not stop the ghostwire service (%s): %v", out, err)
}

// waitRunning waits until launchd reports the job's process running.
func waitRunning(d time.Duration) error {
	deadline := time.Now().Add(d)
	var last string
	for time.Now().Before(deadline) {
		out, err := run(launchctl, "print", "system/"+LaunchdLabel)
		if err == nil && strings.Contains(out, "state = running") {
			return nil
		}
		last = out
		time.Sleep(200 * time.Millisecond)
	}
	if i := strings.Index(last, "last exit code"); i >= 0 {
		return errors.New(strings.TrimSpace(strings.SplitN(last[i:], "\n", 2)[0]))
	}
	return errors.New("launchd does not report it running")
}

func run(name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

// LogDirs are the folders holding the daemon's logs (`ghostwire daemon purge`).
func LogDirs() []string { return []string{MacLogDir} }
