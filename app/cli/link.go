package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/ghostwire/ghostwire/app/addcluster"
	"github.com/ghostwire/ghostwire/app/tray/desktop"
	"github.com/ghostwire/ghostwire/app/tray/notify"
)

// `ghostwire open-link ghostwire://connect?server=https://…` is what the
// desktop runs when someone clicks a connect link (the .deb's
// ghostwire-link.desktop registers it; the MSI and the pkg register the same
// command). It shows the server's host and name and asks before anything is
// added or connected; bad links are refused with the reason. Started from a
// terminal it asks there and then follows the connection like `up`; started
// by the desktop it asks with a dialog, hands the connection to the daemon,
// and makes sure the menu-bar app runs to show the sign-in.

// linkHooks replace the outside world in tests.
type linkHooks struct {
	config      addcluster.ConfigFunc
	interactive func() bool
	desktop     func() (desktop.Desktop, bool)
	ensureTray  func(ctx context.Context) error
	stdin       io.Reader
}

func (a *App) openLinkCmd() *cobra.Command {
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "open-link LINK",
		Short: "Add a cluster from a ghostwire://connect link, after asking you (run by your desktop when you click one)",
		Long: "Add and connect the cluster a ghostwire://connect?server=https://… link names. The server's\n" +
			"address and the name it gives itself are shown first, and nothing is added or connected\n" +
			"unless you say yes. Links with anything but one https server are refused.\n\n" + exitCodesHelp,
		Example: "  ghostwire open-link 'ghostwire://connect?server=https://vpn.example.com'",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.openLink(cmd.Context(), args[0], timeout)
		},
	}
	cmd.Flags().DurationVar(&timeout, "timeout", 15*time.Minute, "in a terminal: give up waiting for the connection after this long")
	return cmd
}

func (a *App) hooks() linkHooks {
	h := a.link
	if h.config == nil {
		h.config = addcluster.FetchConfig
	}
	if h.interactive == nil {
		h.interactive = stdinIsTerminal
	}
	if h.desktop == nil {
		h.desktop = func() (desktop.Desktop, bool) {
			return desktop.Desktop{GOOS: runtime.GOOS, Env: os.Getenv, Look: exec.LookPath}, hasDesktop()
		}
	}
	if h.ensureTray == nil {
		h.ensureTray = ensureTray
	}
	if h.stdin == nil {
		h.stdin = os.Stdin
	}
	return h
}

func (a *App) openLink(ctx context.Context, raw string, timeout time.Duration) error {
	h := a.hooks()
	interactive := h.interactive()
	desk, gui := h.desktop()
	gui = gui && !interactive
	// In a desktop session the person sees no terminal: say it in a dialog too.
	fail := func(err error) error {
		if gui {
			dctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
			if desk.ShowInfo(dctx, "Ghostwire: link not used", err.Error()) != nil {
				// No dialog program: a desktop notification at least.
				s := notify.NewSender()
				_ = s.Send(dctx, notify.Notification{Key: "link", Title: "Ghostwire: link not used", Body: err.Error()})
				s.Close()
			}
			cancel()
		}
		return err
	}
	link, err := addcluster.ParseLink(raw)
	if err != nil {
		return fail(&exitError{code: ExitUsage, err: err})
	}
	c := a.client()
	st, err := c.Status(ctx)
	if err != nil {
		return fail(err)
	}
	var ask addcluster.Asker
	switch {
	case interactive:
		ask = terminalAsker{in: h.stdin, out: a.out}
	case gui && desk.CanConfirm():
		ask = desk
	}
	plan, err := addcluster.Prepare(ctx, st, link.Server, addcluster.FromLink, h.config, ask)
	if errors.Is(err, addcluster.ErrDeclined) {
		fmt.Fprintln(a.out, "Nothing was added or connected.")
		return nil
	}
	if err != nil {
		return fail(err)
	}
	if interactive {
		return a.up(ctx, plan.Up, true, timeout)
	}
	if _, err := c.Up(ctx, plan.Up); err != nil {
		return fail(err)
	}
	fmt.Fprintf(a.out, "Connecting to %s as profile %s; the Ghostwire menu shows the sign-in.\n", link.Server, plan.Up.Profile)
	if err := h.ensureTray(ctx); err != nil {
		return fail(fmt.Errorf("connecting, but the Ghostwire menu could not be started to show the sign-in (%v): run `ghostwire login --profile %s` in a terminal", err, plan.Up.Profile))
	}
	return nil
}

// terminalAsker asks on the terminal; only "y" or "yes" is a yes.
type terminalAsker struct {
	in  io.Reader
	out io.Writer
}

func (t terminalAsker) Confirm(_ context.Context, title, text, yes string) (bool, error) {
	fmt.Fprintf(t.out, "%s\n\n%s\n\n%s? [y/N] ", title, text, yes)
	line, err := bufio.NewReader(t.in).ReadString('\n')
	if err != nil && line == "" {
		return false, nil
	}
	ans := strings.ToLower(strings.TrimSpace(line))
	return ans == "y" || ans == "yes", nil
}

// stdinIsTerminal: a person at a terminal (not /dev/null, which the desktop
// gives a handler and which is a character device too).
func stdinIsTerminal() bool { return term.IsTerminal(int(os.Stdin.Fd())) }
