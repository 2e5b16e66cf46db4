package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/pkg/browser"
	"github.com/spf13/cobra"

	"github.com/ghostwire/ghostwire/app/localapi"
	"github.com/ghostwire/ghostwire/app/serverclient"
)

func (a *App) upCmd() *cobra.Command {
	var req localapi.UpRequest
	var caFile string
	var noBrowser bool
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "up [SERVER_URL]",
		Short: "Connect to a cluster (signing in if needed)",
		Long: "Connect a profile. The first time, give the server's URL; it is remembered.\n" +
			"While you sign in, the sign-in address and code are shown here; once connected, the\n" +
			"address, routes and DNS domains are shown. Ctrl-C cancels the attempt.\n\n" + exitCodesHelp,
		Example: "  ghostwire up https://vpn.example.com\n  ghostwire up --profile staging https://vpn.staging.example.com --ca-file /etc/ssl/corp-ca.pem\n  ghostwire up --device-code",
		Args:    cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				// Checked here too, so a malformed URL is a usage error
				// (exit 2) even when the daemon is not running.
				u, err := serverclient.ParseServerURL(args[0])
				if err != nil {
					return exitWith(ExitUsage, "%v", err)
				}
				req.Server = u.String()
			}
			if caFile != "" {
				pem, err := readCA(caFile)
				if err != nil {
					return exitWith(ExitUsage, "--ca-file %s: %v", caFile, err)
				}
				req.CAPEM = string(pem)
			}
			return a.up(cmd.Context(), req, !noBrowser, timeout)
		},
	}
	cmd.Flags().StringVar(&req.Profile, "profile", "", "profile name (default: the only profile, or \"default\")")
	cmd.Flags().StringVar(&caFile, "ca-file", "", "PEM file of a private CA to trust for this server (in addition to the system's); read by you, remembered by the daemon")
	cmd.Flags().BoolVar(&req.DeviceCode, "device-code", false, "sign in with a code on another device instead of a browser here")
	cmd.Flags().BoolVar(&noBrowser, "no-browser", false, "show the sign-in address without opening a browser")
	cmd.Flags().DurationVar(&timeout, "timeout", 15*time.Minute, "give up waiting after this long")
	return cmd
}

// up asks the daemon to connect and follows the profile until it is
// connected or fails. Ctrl-C brings the profile down again.
func (a *App) up(ctx context.Context, req localapi.UpRequest, openBrowser bool, timeout time.Duration) error {
	c := a.client()
	st, err := c.Up(ctx, req)
	if err != nil {
		return err
	}
	name := req.Profile
	if name == "" {
		name = pickProfile(st)
	}
	sigCtx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	wctx, cancel := context.WithTimeout(sigCtx, timeout)
	defer cancel()

	var lastPrompt uint64
	var lastState localapi.State
	var final localapi.Profile
	werr := c.Watch(wctx, func(s localapi.Status) error {
		p, ok := s.Profile(name)
		if !ok {
			return exitWith(ExitNotFound, "the daemon has no profile %q", name)
		}
		final = p
		if p.SignIn != nil && p.SignIn.Seq != lastPrompt {
			lastPrompt = p.SignIn.Seq
			a.showPrompt(p, openBrowser)
		}
		if p.State != lastState && p.State == localapi.StateReconnecting {
			fmt.Fprintf(a.out, "Retrying: %s\n", p.Reason)
		}
		lastState = p.State
		switch p.State {
		case localapi.StateConnected:
			return errDone
		case localapi.StateError, localapi.StateNeedsSignIn:
			return exitWith(codeFor(orInternal(p.ErrorCode)), "%s", p.Reason)
		case localapi.StateDisconnected:
			return exitWith(ExitError, "profile %q was disconnected before it connected (did someone run `ghostwire down`?)", name)
		}
		return nil
	})
	switch {
	case errors.Is(werr, errDone):
		a.showConnected(final)
		return nil
	case sigCtx.Err() != nil:
		// The person gave up: do not leave a sign-in or connection behind.
		dctx, dcancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer dcancel()
		_, _ = c.Down(dctx, localapi.ProfileRequest{Profile: name})
		return exitWith(ExitInterrupted, "cancelled; profile %q is disconnected", name)
	case wctx.Err() != nil:
		return exitWith(ExitError, "still not connected after %s (state %s: %s); the daemon keeps trying: see `ghostwire status`", timeout, final.State, final.Reason)
	}
	return werr
}

var errDone = errors.New("done")

func orInternal(code string) string {
	if code == "" {
		return localapi.CodeInternal
	}
	return code
}

// pickProfile is the profile the daemon chose for an unnamed request: the
// only one, else the default.
func pickProfile(st localapi.Status) string {
	if len(st.Profiles) == 1 {
		return st.Profiles[0].Name
	}
	return "default"
}

func (a *App) showPrompt(p localapi.Profile, openBrowser bool) {
	s := p.SignIn
	// In auto mode both flows run: the browser here, or a code on any device.
	if s.BrowserURL != "" {
		fmt.Fprintf(a.out, "To sign in to %s, open this address in your browser:\n\n    %s\n\n", p.Server, s.BrowserURL)
		if openBrowser {
			browser.Stdout, browser.Stderr = io.Discard, io.Discard
			if err := browser.OpenURL(s.BrowserURL); err == nil {
				fmt.Fprintln(a.out, "(your browser was opened; finish signing in there)")
			}
		}
	}
	if s.UserCode != "" {
		lead := "To sign in to " + p.Server + ", open"
		if s.BrowserURL != "" {
			lead = "Or, on any device, open"
		}
		fmt.Fprintf(a.out, "%s\n\n    %s\n\nand enter the code\n\n    %s\n\n", lead, s.VerificationURI, s.UserCode)
		if s.VerificationURIComplete != "" {
			fmt.Fprintf(a.out, "(or open %s directly)\n", s.VerificationURIComplete)
		}
		if !s.ExpiresAt.IsZero() {
			fmt.Fprintf(a.out, "The code is valid until %s.\n", s.ExpiresAt.Local().Format("15:04"))
		}
	}
	fmt.Fprintln(a.out, "Waiting for you to sign in... (Ctrl-C to cancel)")
}

func (a *App) showConnected(p localapi.Profile) {
	who := ""
	if p.User != "" {
		who = " as " + p.User
	}
	fmt.Fprintf(a.out, "Connected to %s%s (profile %s).\n", p.Server, who, p.Name)
	row := func(k, v string) {
		if v != "" {
			fmt.Fprintf(a.out, "  %-10s %s\n", k, v)
		}
	}
	row("interface", p.Interface)
	row("address", p.Address)
	row("routes", strings.Join(p.Routes, ", "))
	row("DNS", strings.Join(p.DNSServers, ", "))
	row("domains", strings.Join(dedupe(append(append([]string{}, p.SearchDomains...), p.MatchDomains...)), ", "))
	if p.ExpiresAt != nil {
		row("renews", "automatically before "+p.ExpiresAt.Local().Format("15:04 Jan 2"))
	}
}

func dedupe(ss []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range ss {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

func (a *App) downCmd() *cobra.Command {
	var req localapi.ProfileRequest
	cmd := &cobra.Command{
		Use:   "down",
		Short: "Disconnect (removes this device from the server, restores routes and DNS)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := a.client().Down(cmd.Context(), req)
			if err != nil {
				return err
			}
			shown := false
			for _, p := range st.Profiles {
				if req.All || p.Name == req.Profile || (req.Profile == "" && (len(st.Profiles) == 1 || p.Name == "default")) {
					fmt.Fprintf(a.out, "%s: %s\n", p.Name, p.State)
					shown = true
				}
			}
			if !shown && !req.All {
				// A profile that never connected is forgotten at down.
				fmt.Fprintf(a.out, "%s: %s (never connected: not kept)\n", orDefault(req.Profile), localapi.StateDisconnected)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&req.Profile, "profile", "", "profile to disconnect")
	cmd.Flags().BoolVar(&req.All, "all", false, "disconnect every profile")
	return cmd
}

func (a *App) loginCmd() *cobra.Command {
	var req localapi.ProfileRequest
	var noBrowser bool
	cmd := &cobra.Command{
		Use:   "login",
		Short: "Sign in again (reconnects a profile that was waiting for it)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c := a.client()
			st, err := c.Login(cmd.Context(), req)
			if err != nil {
				return err
			}
			name := req.Profile
			if name == "" {
				name = pickProfile(st)
			}
			var last uint64
			var final localapi.Profile
			err = c.Watch(cmd.Context(), func(s localapi.Status) error {
				p, ok := s.Profile(name)
				if !ok {
					return exitWith(ExitNotFound, "the daemon has no profile %q", name)
				}
				final = p
				if p.SignIn != nil && p.SignIn.Seq != last {
					last = p.SignIn.Seq
					a.showPrompt(p, !noBrowser)
				}
				switch p.State {
				case localapi.StateSigningIn, localapi.StateRegistering, localapi.StateReconnecting:
					return nil
				case localapi.StateError, localapi.StateNeedsSignIn:
					return exitWith(codeFor(orInternal(p.ErrorCode)), "%s", p.Reason)
				}
				return errDone
			})
			if !errors.Is(err, errDone) {
				return err
			}
			who := final.User
			if who == "" {
				who = "your account"
			}
			fmt.Fprintf(a.out, "Signed in to %s as %s.\n", final.Server, who)
			if final.State == localapi.StateConnected {
				a.showConnected(final)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&req.Profile, "profile", "", "profile to sign in for")
	cmd.Flags().BoolVar(&req.DeviceCode, "device-code", false, "sign in with a code on another device instead of a browser here")
	cmd.Flags().BoolVar(&noBrowser, "no-browser", false, "show the sign-in address without opening a browser")
	return cmd
}

func (a *App) logoutCmd() *cobra.Command {
	var req localapi.ProfileRequest
	cmd := &cobra.Command{
		Use:   "logout",
		Short: "Disconnect and forget the sign-in (the next `up` asks you to sign in)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if _, err := a.client().Logout(cmd.Context(), req); err != nil {
				return err
			}
			fmt.Fprintln(a.out, "Signed out.")
			return nil
		},
	}
	cmd.Flags().StringVar(&req.Profile, "profile", "", "profile to sign out of")
	cmd.Flags().BoolVar(&req.All, "all", false, "sign out of every profile")
	return cmd
}

func (a *App) extendCmd() *cobra.Command {
	var req localapi.ProfileRequest
	cmd := &cobra.Command{
		Use:   "extend",
		Short: "Renew the connection now: a new key and a new lifetime, same address (done automatically before expiry)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if _, err := a.client().Extend(cmd.Context(), req); err != nil {
				return err
			}
			fmt.Fprintln(a.out, "Renewing; `ghostwire status` shows the new expiry.")
			return nil
		},
	}
	cmd.Flags().StringVar(&req.Profile, "profile", "", "profile to renew")
	return cmd
}

// readCA reads a private CA's PEM file as the person running the CLI (the
// daemon is sent its contents, never the path), refusing what is not a
// small regular file of certificates.
func readCA(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if st, err := f.Stat(); err != nil {
		return nil, err
	} else if !st.Mode().IsRegular() {
		return nil, errors.New("not a regular file: give the CA certificate's .pem file")
	}
	b, err := io.ReadAll(io.LimitReader(f, localapi.MaxCAPEM+1))
	if err != nil {
		return nil, err
	}
	if err := localapi.CheckCAPEM(b); err != nil {
		return nil, err
	}
	return b, nil
}
