package cli

import (
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/ghostwire/ghostwire/app/daemon"
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
			switch tunnel.DNSMode(dnsMode) {
			case tunnel.DNSAuto, tunnel.DNSResolved, tunnel.DNSStub, tunnel.DNSResolvConf, tunnel.DNSOff:
				o.DNSMode = tunnel.DNSMode(dnsMode)
			default:
				return exitWith(ExitUsage, "bad --dns %q: use resolved, stub, resolvconf or off (empty: choose automatically)", dnsMode)
			}
			o.Socket = a.socket
			o.Log = slog.New(slog.NewTextHandler(a.errOut, &slog.HandlerOptions{Level: lv}))
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return daemon.Run(ctx, o)
		},
	}
	cmd.Flags().StringVar(&o.StateDir, "state-dir", daemon.DefaultStateDir, "where profile settings and the undo journal live (no secrets)")
	cmd.Flags().StringVar(&o.InterfacePrefix, "interface-prefix", "gw", "tunnel interfaces are named <prefix>0, <prefix>1, ...")
	cmd.Flags().StringVar(&dnsMode, "dns", "", "DNS mechanism: auto, resolved, stub, resolvconf or off (auto: resolved when it runs, else stub)")
	cmd.Flags().StringVar(&level, "log-level", "info", "debug, info, warn or error")
	// For tests and debugging: how often each profile asks the server about its peer.
	cmd.Flags().DurationVar(&o.Timing.PeerCheck, "peer-check-interval", 0, "how often the server is asked whether this device's peer still exists (0: the engine's default, 30s)")
	_ = cmd.Flags().MarkHidden("peer-check-interval")
	return cmd
}
