package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/ghostwire/ghostwire/app/daemon"
	"github.com/ghostwire/ghostwire/app/service"
	"github.com/ghostwire/ghostwire/tunnel"
)

func (a *App) daemonCmd() *cobra.Command {
	var o daemon.RunOptions
	var dnsMode, level string
	cmd := &cobra.Command{
		Use:   "daemon",
		Short: "Run the privileged daemon (root; normally started by the system service)",
		Long: "Run the daemon that owns the tunnels. It holds keys and tokens in memory only, listens on\n" +
			"the local socket for the CLI and the menu-bar app (root and members of the \"ghostwire\" group),\n" +
			"and on SIGTERM or Ctrl-C disconnects every profile and removes this device from the servers.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			var lv slog.Level
			if err := lv.UnmarshalText([]byte(level)); err != nil {
				return exitWith(ExitUsage, "bad --log-level %q: use debug, info, warn or error", level)
			}
			if dnsMode == "auto" {
				dnsMode = ""
			}
			if !tunnel.DNSMode(dnsMode).Valid() {
				return exitWith(ExitUsage, "bad --dns %q: use auto or one of %v", dnsMode, tunnel.DNSModes)
			}
			o.DNSMode = tunnel.DNSMode(dnsMode)
			o.Socket = a.socket
			o.Log = slog.New(slog.NewTextHandler(service.LogOutput(a.errOut), &slog.HandlerOptions{Level: lv}))
			return service.Run(cmd.Context(), func(ctx context.Context) error { return daemon.Run(ctx, o) })
		},
	}
	cmd.AddCommand(a.daemonInstallCmd(), a.daemonUninstallCmd(), a.daemonPurgeCmd())
	cmd.Flags().StringVar(&o.StateDir, "state-dir", daemon.DefaultStateDir, "where profile settings and the undo journal live (no secrets)")
	cmd.Flags().StringVar(&o.InterfacePrefix, "interface-prefix", "gw", "tunnel interfaces are named <prefix>0, <prefix>1, ...")
	cmd.Flags().StringVar(&dnsMode, "dns", "", "DNS mechanism: auto, resolved, stub, resolvconf, scutil (macOS), nrpt (Windows) or off\n(auto: on Linux resolved when it runs, else stub; scutil on macOS; nrpt on Windows)")
	cmd.Flags().StringVar(&level, "log-level", "info", "debug, info, warn or error")
	// For tests and debugging: how often each profile asks the server about its peer.
	cmd.Flags().DurationVar(&o.Timing.PeerCheck, "peer-check-interval", 0, "how often the server is asked whether this device's peer still exists (0: the engine's default, 30s)")
	_ = cmd.Flags().MarkHidden("peer-check-interval")
	return cmd
}

func (a *App) daemonInstallCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "install",
		Short: "Register the daemon as a system service that starts at boot (administrator)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			exe, err := os.Executable()
			if err != nil {
				return fmt.Errorf("cannot find this program's path: %w", err)
			}
			if err := service.Install(service.Spec{Executable: exe, Args: []string{"daemon"}}); err != nil {
				return err
			}
			fmt.Fprintf(a.out, "the ghostwire daemon is installed as the %q service and running\n", service.Name)
			return nil
		},
	}
}

func (a *App) daemonUninstallCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "uninstall",
		Short: "Stop the daemon's system service and remove it (administrator)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := service.Uninstall(); err != nil {
				return err
			}
			fmt.Fprintf(a.out, "the %q service is stopped and removed\n", service.Name)
			return nil
		},
	}
}

func (a *App) daemonPurgeCmd() *cobra.Command {
	var stateDir string
	cmd := &cobra.Command{
		Use:   "purge",
		Short: "Remove everything the daemon keeps on this machine, after undoing what a crashed daemon left (administrator; run by the uninstallers)",
		Long: "With the daemon stopped: undo every change its undo journal still lists (routes, DNS\n" +
			"settings, NRPT rules), and the DNS rules marked as ghostwire's whose daemon is gone, then\n" +
			"delete the state directory (profiles: no secret) and the daemon's logs. The Windows\n" +
			"installer runs it when ghostwire is removed (not on upgrades); so does the macOS\n" +
			"uninstall script. It refuses while a daemon answers.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.purge(cmd.Context(), stateDir)
		},
	}
	cmd.Flags().StringVar(&stateDir, "state-dir", daemon.DefaultStateDir, "the daemon's state directory")
	return cmd
}

func (a *App) purge(ctx context.Context, stateDir string) error {
	if !filepath.IsAbs(stateDir) {
		return exitWith(ExitUsage, "the state directory must be an absolute path, not %q", stateDir)
	}
	sctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	_, err := a.client().Status(sctx)
	cancel()
	if err == nil {
		return exitWith(ExitError, "the ghostwire daemon is running: stop its service first (Windows: `sc stop ghostwire`; macOS: `sudo launchctl bootout system/%s`; Linux: `sudo systemctl stop ghostwire`)", service.LaunchdLabel)
	}
	log := slog.New(slog.NewTextHandler(a.errOut, nil))
	var errs []error
	if err := tunnel.Recover(filepath.Join(stateDir, "journal"), log); err != nil {
		errs = append(errs, fmt.Errorf("some changes of an earlier daemon could not be undone: %w", err))
	}
	for _, dir := range append([]string{stateDir}, service.LogDirs()...) {
		if _, err := os.Lstat(dir); errors.Is(err, os.ErrNotExist) {
			continue // none, or inside the state directory (Windows)
		}
		if err := removeTree(dir); err != nil {
			errs = append(errs, fmt.Errorf("cannot remove %s: %w", dir, err))
			continue
		}
		fmt.Fprintf(a.out, "removed %s\n", dir)
	}
	return errors.Join(errs...)
}

// removeTree removes dir and everything in it, deepest first, one
// os.Remove each: os.RemoveAll's Windows implementation needs POSIX delete
// semantics that Wine lacks ("Invalid function"), and this works on both.
func removeTree(dir string) error {
	var paths []string
	err := filepath.WalkDir(dir, func(p string, _ os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		paths = append(paths, p)
		return nil
	})
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	var errs []error
	for i := len(paths) - 1; i >= 0; i-- {
		if err := os.Remove(paths[i]); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
