package cli

import (
	"context"
	"fmt"
	"log/slog"
	"os"

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
	cmd.AddCommand(a.daemonInstallCmd(), a.daemonUninstallCmd())
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
