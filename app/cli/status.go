package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/ghostwire/ghostwire/app/localapi"
)

func (a *App) statusCmd() *cobra.Command {
	var asJSON bool
	var profile string
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show each profile: state, user, server, address, latest handshake, bytes, expiry",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := a.client().Status(cmd.Context())
			if err != nil {
				return err
			}
			if profile != "" {
				p, ok := st.Profile(profile)
				if !ok {
					return exitWith(ExitNotFound, "there is no profile %q", profile)
				}
				st.Profiles = []localapi.Profile{p}
			}
			if asJSON {
				enc := json.NewEncoder(a.out)
				enc.SetIndent("", "  ")
				return enc.Encode(st)
			}
			writeStatus(a.out, st, time.Now())
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the daemon's status as JSON")
	cmd.Flags().StringVar(&profile, "profile", "", "show only this profile")
	return cmd
}

func writeStatus(w io.Writer, st localapi.Status, now time.Time) {
	if len(st.Profiles) == 0 {
		fmt.Fprintln(w, "No profile yet: connect with `ghostwire up https://vpn.example.com`.")
		return
	}
	for i, p := range st.Profiles {
		if i > 0 {
			fmt.Fprintln(w)
		}
		fmt.Fprintf(w, "%s: %s\n", p.Name, p.State)
		row := func(k, v string) {
			if v != "" {
				fmt.Fprintf(w, "  %-17s %s\n", k, v)
			}
		}
		row("why", p.Reason)
		row("server", p.Server)
		row("user", p.User)
		row("interface", p.Interface)
		row("address", p.Address)
		row("endpoint", p.Endpoint)
		row("routes", strings.Join(p.Routes, ", "))
		row("DNS servers", strings.Join(p.DNSServers, ", "))
		row("search domains", strings.Join(p.SearchDomains, ", "))
		row("match domains", strings.Join(p.MatchDomains, ", "))
		if p.LatestHandshake != nil {
			row("latest handshake", ago(now, *p.LatestHandshake))
		}
		if p.RxBytes > 0 || p.TxBytes > 0 {
			row("transfer", fmt.Sprintf("%s received, %s sent", bytesHuman(p.RxBytes), bytesHuman(p.TxBytes)))
		}
		if p.ConnectedSince != nil {
			row("connected since", p.ConnectedSince.Local().Format("15:04:05 Jan 2"))
		}
		if p.ExpiresAt != nil {
			row("peer expires", fmt.Sprintf("%s (renewed automatically)", until(now, *p.ExpiresAt)))
		}
		if p.SessionExpiresAt != nil {
			row("sign-in expires", until(now, *p.SessionExpiresAt))
		}
		if p.SignIn != nil {
			if p.SignIn.UserCode != "" {
				row("sign in at", p.SignIn.VerificationURI+"  code "+p.SignIn.UserCode)
			} else {
				row("sign in at", p.SignIn.BrowserURL)
			}
		}
	}
}

func ago(now, t time.Time) string {
	d := now.Sub(t)
	if d < time.Second {
		return "just now"
	}
	return d.Round(time.Second).String() + " ago"
}

func until(now, t time.Time) string {
	d := t.Sub(now)
	if d <= 0 {
		return "expired " + (-d).Round(time.Second).String() + " ago"
	}
	return "in " + d.Round(time.Second).String() + " (" + t.Local().Format("15:04 Jan 2") + ")"
}

func bytesHuman(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
