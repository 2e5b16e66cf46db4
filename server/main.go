// Command ghostwire-server is ghostwire's in-cluster control plane: it
// verifies sign-in tokens, registers WireGuard peers with addresses from its
// pool, programs the WireGuard device, forwards client traffic into the
// cluster and removes idle and expired peers. `ghostwire-server --help` lists
// every setting; each is also an environment variable GHOSTWIRE_<FLAG>.
package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/ghostwire/ghostwire/auth/devidp"
	"github.com/ghostwire/ghostwire/server/config"
)

// version is set at build time (-ldflags "-X main.version=...").
var version = "dev"

func main() {
	if err := rootCommand().Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "ghostwire-server:", err)
		os.Exit(1)
	}
}

func rootCommand() *cobra.Command {
	cfg := config.Default()
	cmd := &cobra.Command{
		Use:   "ghostwire-server",
		Short: "ghostwire's in-cluster WireGuard control plane",
		Long: `ghostwire-server registers laptops' WireGuard keys after verifying their sign-in token
(Entra ID or any OpenID provider), gives each an address, programs the WireGuard device
(kernel wg0, else embedded wireguard-go), forwards their traffic into the cluster and removes
idle and expired peers. Its WireGuard key is generated at start and never written anywhere.

Every flag can also be set with an environment variable GHOSTWIRE_<FLAG> (upper case,
dashes as underscores), e.g. --idle-timeout ↔ GHOSTWIRE_IDLE_TIMEOUT; a flag on the command
line wins over the environment.`,
		Version:       version,
		SilenceUsage:  true,
		SilenceErrors: true,
		Args:          cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := config.ApplyEnv(cmd.Flags(), nil); err != nil {
				return err
			}
			if err := cfg.Validate(); err != nil {
				return fmt.Errorf("invalid configuration:\n  %s", strings.ReplaceAll(err.Error(), "\n", "\n  "))
			}
			return serve(cmd.Context(), &cfg, cmd.ErrOrStderr())
		},
	}
	cmd.Flags().AddFlagSet(cfg.Flags())
	cmd.Flags().SortFlags = false
	cmd.AddCommand(devidp.Command())
	return cmd
}
