// Package cli is the ghostwire command line: thin commands that talk to the
// daemon over the local API and show what it says. The daemon decides; the
// CLI only renders and maps outcomes to exit codes.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"

	"github.com/spf13/cobra"

	"github.com/ghostwire/ghostwire/app/localapi"
)

// Exit codes, documented in `ghostwire --help` and the README.
const (
	ExitOK          = 0   // done: connected, disconnected, status shown
	ExitError       = 1   // anything not listed below
	ExitUsage       = 2   // bad command line or request (unknown flag, bad URL)
	ExitNoDaemon    = 3   // the daemon is not running or not reachable
	ExitSignIn      = 4   // sign-in failed, was cancelled, or is needed again
	ExitForbidden   = 5   // the server refused your account, or you may not use the daemon
	ExitUnreachable = 6   // the server (API or WireGuard endpoint) cannot be reached
	ExitConflict    = 7   // routes overlap another connected profile
	ExitNotFound    = 8   // no such profile
	ExitUnsupported = 9   // not supported on this OS yet
	ExitDeviceCap   = 10  // your account has as many devices connected as the server allows
	ExitInterrupted = 130 // Ctrl-C: the connection attempt was cancelled
)

const exitCodesHelp = `Exit codes:
  0    done (connected, disconnected, status shown)
  1    other error
  2    bad usage or request
  3    the ghostwire daemon is not running or not reachable
  4    sign-in failed, was cancelled, or is needed again
  5    the server refused your account, or you may not use the daemon
  6    the server or its WireGuard endpoint cannot be reached
  7    the routes overlap another connected profile
  8    no such profile
  9    not supported on this OS yet
  10   your account has as many devices connected as the server allows
  130  interrupted (Ctrl-C); the connection attempt was cancelled`

// exitError carries an exit code with the message to print.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func exitWith(code int, format string, args ...any) error {
	return &exitError{code: code, err: fmt.Errorf(format, args...)}
}

// codeFor maps a local API error code to the exit code.
func codeFor(code string) int {
	switch code {
	case "":
		return ExitOK
	case localapi.CodeBadRequest:
		return ExitUsage
	case localapi.CodeNoDaemon:
		return ExitNoDaemon
	case localapi.CodeSignIn:
		return ExitSignIn
	case localapi.CodeForbidden:
		return ExitForbidden
	case localapi.CodeUnavailable:
		return ExitUnreachable
	case localapi.CodeConflict:
		return ExitConflict
	case localapi.CodeNotFound:
		return ExitNotFound
	case localapi.CodeUnsupportedOS:
		return ExitUnsupported
	case localapi.CodeDeviceCap:
		return ExitDeviceCap
	}
	return ExitError
}

// ExitCode returns the exit code for an error returned by a command.
func ExitCode(err error) int {
	if err == nil {
		return ExitOK
	}
	var xe *exitError
	if errors.As(err, &xe) {
		return xe.code
	}
	if errors.Is(err, context.Canceled) {
		return ExitInterrupted
	}
	var le *localapi.Error
	if errors.As(err, &le) {
		return codeFor(le.Code)
	}
	return ExitError
}

// App holds what the commands share.
type App struct {
	Version string
	// Tray runs the tray (app/tray); injected by main so the CLI builds
	// without cgo where the tray cannot.
	Tray func(ctx context.Context, socket string) error

	socket string
	out    io.Writer
	errOut io.Writer
	link   linkHooks // tests replace the outside world of open-link
}

func (a *App) client() *localapi.Client { return localapi.NewClient(a.socket) }

// NewRoot builds the command tree.
func (a *App) NewRoot() *cobra.Command {
	root := &cobra.Command{
		Use:   "ghostwire",
		Short: "Passwordless WireGuard into your Kubernetes cluster",
		Long: "ghostwire connects this machine to a cluster: sign in with your organisation's account, and\n" +
			"cluster names and addresses work as if you were a pod. No key or password is stored.\n\n" +
			"Without a command it starts the menu-bar app on a desktop.\n\n" + exitCodesHelp,
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       a.Version,
		RunE: func(cmd *cobra.Command, args []string) error {
			if !hasDesktop() {
				_ = cmd.Help()
				return nil
			}
			return a.runTray(cmd.Context())
		},
	}
	root.PersistentFlags().StringVar(&a.socket, "socket", localapi.SocketPath(),
		"the daemon's local socket (also $"+localapi.SocketEnv+")")
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return &exitError{code: ExitUsage, err: fmt.Errorf("%v (see `%s --help`)", err, c.CommandPath())}
	})
	root.AddCommand(a.upCmd(), a.downCmd(), a.statusCmd(), a.loginCmd(), a.logoutCmd(), a.extendCmd(), a.profileCmd(), a.daemonCmd(), a.trayCmd(), a.openLinkCmd())
	return root
}

func (a *App) trayCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "tray",
		Short: "Start the menu-bar app (it talks to the daemon)",
		Args:  cobra.NoArgs,
		RunE:  func(cmd *cobra.Command, args []string) error { return a.runTray(cmd.Context()) },
	}
}

func (a *App) runTray(ctx context.Context) error {
	if a.Tray == nil {
		return exitWith(ExitUnsupported, "the menu-bar app is not part of this build of ghostwire on %s: use the commands (`ghostwire --help`)", runtime.GOOS)
	}
	return a.Tray(ctx, a.socket)
}

// hasDesktop reports whether a graphical session is there for the tray.
func hasDesktop() bool {
	switch runtime.GOOS {
	case "darwin", "windows":
		return true
	}
	return os.Getenv("DISPLAY") != "" || os.Getenv("WAYLAND_DISPLAY") != ""
}

// Run executes the CLI with args and returns the process exit code.
func (a *App) Run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	a.out, a.errOut = stdout, stderr
	root := a.NewRoot()
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	if err != nil {
		var xe *exitError
		if !errors.As(err, &xe) && isUsageError(err) {
			err = &exitError{code: ExitUsage, err: err}
		}
		fmt.Fprintln(stderr, "ghostwire:", err)
	}
	return ExitCode(err)
}

// isUsageError recognises cobra's own argument errors.
func isUsageError(err error) bool {
	msg := err.Error()
	for _, p := range []string{"unknown command", "accepts ", "requires ", "unknown flag", "unknown shorthand", "invalid argument"} {
		if strings.Contains(msg, p) {
			return true
		}
	}
	return false
}
