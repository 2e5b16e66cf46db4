package cli

import (
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/ghostwire/ghostwire/app/localapi"
)

func (a *App) profileCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "profile",
		Short: "List or remove the profiles the daemon keeps (one per cluster)",
		Args:  cobra.NoArgs,
		RunE:  func(cmd *cobra.Command, args []string) error { return cmd.Help() },
	}
	cmd.AddCommand(&cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List the profiles: name, server, interface, state",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := a.client().Status(cmd.Context())
			if err != nil {
				return err
			}
			if len(st.Profiles) == 0 {
				fmt.Fprintln(a.out, "No profile yet: connect with `ghostwire up https://vpn.example.com`.")
				return nil
			}
			tw := tabwriter.NewWriter(a.out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tSERVER\tINTERFACE\tSTATE")
			for _, p := range st.Profiles {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", p.Name, p.Server, p.Interface, p.State)
			}
			return tw.Flush()
		},
	}, &cobra.Command{
		Use:     "remove NAME",
		Aliases: []string{"rm"},
		Short:   "Disconnect a profile and forget it (its server, private CA and interface)",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if _, err := a.client().Remove(cmd.Context(), localapi.ProfileRequest{Profile: args[0]}); err != nil {
				return err
			}
			fmt.Fprintf(a.out, "%s: removed\n", args[0])
			return nil
		},
	})
	return cmd
}

// orDefault names the profile a request without --profile meant.
func orDefault(name string) string {
	if name == "" {
		return "default"
	}
	return name
}
