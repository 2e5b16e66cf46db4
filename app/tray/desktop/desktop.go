// Package desktop holds the small pieces of the desktop the tray uses besides
// its menu: the clipboard and a dialog asking for a server URL, each through
// the programs every OS ships (no cgo): wl-copy/xclip/xsel and zenity/kdialog on
// Linux, pbcopy and osascript on macOS, clip.exe and PowerShell on Windows.
package desktop

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
)

// ErrCancelled is returned when the person closes the dialog without an answer.
var ErrCancelled = errors.New("cancelled")

// LookPath finds a program; tests replace it.
type LookPath func(string) (string, error)

// Env reads an environment variable; tests replace it.
type Env func(string) string

// clipboardCommand is the program (and arguments) that copies its stdin to the
// clipboard on goos, or nil when none is installed.
func clipboardCommand(goos string, env Env, look LookPath) []string {
	var candidates [][]string
	switch goos {
	case "darwin":
		candidates = [][]string{{"pbcopy"}}
	case "windows":
		candidates = [][]string{{"clip.exe"}}
	default:
		if env("WAYLAND_DISPLAY") != "" {
			candidates = append(candidates, []string{"wl-copy"})
		}
		candidates = append(candidates, []string{"xclip", "-selection", "clipboard"}, []string{"xsel", "--clipboard", "--input"})
	}
	for _, c := range candidates {
		if _, err := look(c[0]); err == nil {
			return c
		}
	}
	return nil
}

func clipboardMissing(goos string) error {
	switch goos {
	case "darwin", "windows":
		return fmt.Errorf("the clipboard program of %s is missing", goos)
	default:
		return errors.New("no clipboard program found: install wl-clipboard (Wayland), xclip or xsel")
	}
}

// askCommand is the program that asks for a server URL on goos and prints the
// answer, or nil when no dialog program is installed.
func askCommand(goos string, look LookPath, title, prompt, def string) []string {
	switch goos {
	case "darwin":
		return []string{"osascript", "-e", "text returned of (display dialog " + asQuote(prompt) +
			" default answer " + asQuote(def) + " with title " + asQuote(title) + ")"}
	case "windows":
		return []string{"powershell.exe", "-NoProfile", "-NonInteractive", "-Command",
			"Add-Type -AssemblyName Microsoft.VisualBasic; [Microsoft.VisualBasic.Interaction]::InputBox(" +
				psQuote(prompt) + "," + psQuote(title) + "," + psQuote(def) + ")"}
	default:
		if _, err := look("zenity"); err == nil {
			return []string{"zenity", "--entry", "--title=" + title, "--text=" + prompt, "--entry-text=" + def}
		}
		if _, err := look("kdialog"); err == nil {
			return []string{"kdialog", "--title", title, "--inputbox", prompt, def}
		}
		return nil
	}
}

// infoCommand shows a message in a dialog on goos, or nil without a dialog program.
func infoCommand(goos string, look LookPath, title, text string) []string {
	switch goos {
	case "darwin":
		return []string{"osascript", "-e", "display dialog " + asQuote(text) + " with title " + asQuote(title) + " buttons {\"OK\"} default button 1"}
	case "windows":
		return []string{"powershell.exe", "-NoProfile", "-NonInteractive", "-Command",
			"Add-Type -AssemblyName Microsoft.VisualBasic; [void][Microsoft.VisualBasic.Interaction]::MsgBox(" +
				psQuote(text) + ",0," + psQuote(title) + ")"}
	default:
		if _, err := look("zenity"); err == nil {
			return []string{"zenity", "--info", "--no-markup", "--title=" + title, "--text=" + text}
		}
		if _, err := look("kdialog"); err == nil {
			return []string{"kdialog", "--title", title, "--msgbox", text}
		}
		return nil
	}
}

// confirmCommand asks a yes/no question on goos, Cancel being the default
// answer where the program allows it, or nil without a dialog program. Text
// is shown as plain text (zenity --no-markup; callers keep < > & out of text
// for kdialog, which may render rich text).
func confirmCommand(goos string, look LookPath, title, text, yes string) []string {
	switch goos {
	case "darwin":
		return []string{"osascript", "-e", "display dialog " + asQuote(text) + " with title " + asQuote(title) +
			" buttons {\"Cancel\", " + asQuote(yes) + "} default button \"Cancel\" cancel button \"Cancel\" with icon caution"}
	case "windows":
		// MsgBox style 305 = OKCancel (1) + Exclamation (48) + Cancel as the default button (256).
		return []string{"powershell.exe", "-NoProfile", "-NonInteractive", "-Command",
			"Add-Type -AssemblyName Microsoft.VisualBasic; [Microsoft.VisualBasic.Interaction]::MsgBox(" +
				psQuote(text+"\n\n(OK: "+yes+")") + ",305," + psQuote(title) + ")"}
	default:
		if _, err := look("zenity"); err == nil {
			return []string{"zenity", "--question", "--no-markup", "--default-cancel", "--title=" + title, "--text=" + text,
				"--ok-label=" + yes, "--cancel-label=Cancel"}
		}
		if _, err := look("kdialog"); err == nil {
			return []string{"kdialog", "--title", title, "--yes-label", yes, "--no-label", "Cancel", "--warningyesno", text}
		}
		return nil
	}
}

// Desktop runs the helpers for one OS.
type Desktop struct {
	GOOS string
	Env  Env
	Look LookPath
}

// CanAsk reports whether AskServerURL can show a dialog.
func (d Desktop) CanAsk() bool {
	return askCommand(d.GOOS, d.Look, "", "", "") != nil
}

// CanConfirm reports whether Confirm can show a dialog.
func (d Desktop) CanConfirm() bool {
	return confirmCommand(d.GOOS, d.Look, "", "", "") != nil
}

// Copy puts text on the clipboard.
func (d Desktop) Copy(ctx context.Context, text string) error {
	c := clipboardCommand(d.GOOS, d.Env, d.Look)
	if c == nil {
		return clipboardMissing(d.GOOS)
	}
	cmd := d.command(ctx, c)
	cmd.Stdin = strings.NewReader(text)
	// No pipes for stdout/stderr: xclip, xsel and wl-copy fork a child that
	// keeps serving the selection, and it would hold our pipes open.
	cmd.Stdout, cmd.Stderr = nil, nil
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("could not copy to the clipboard with %s: %w", c[0], err)
	}
	return nil
}

// AskServerURL asks for a server URL. It returns ErrCancelled when the person
// closes the dialog or leaves it empty.
func (d Desktop) AskServerURL(ctx context.Context) (string, error) {
	c := askCommand(d.GOOS, d.Look, "Add cluster", "Address of the ghostwire server (from your admin):", "https://")
	if c == nil {
		return "", errors.New("no dialog program here (install zenity or kdialog): run `ghostwire up https://<server>` in a terminal")
	}
	out, err := d.command(ctx, c).Output()
	ans := strings.TrimSpace(string(out))
	var ee *exec.ExitError
	if errors.As(err, &ee) || (err == nil && (ans == "" || ans == "https://")) {
		return "", ErrCancelled // zenity/kdialog exit 1, osascript -128, InputBox "" on Cancel
	}
	if err != nil {
		return "", fmt.Errorf("could not show the dialog (%s): %w", c[0], err)
	}
	return ans, nil
}

// Confirm asks a yes/no question; false when the person chooses Cancel or
// closes the dialog. Without a dialog program it returns an error (the
// caller must then not go ahead).
func (d Desktop) Confirm(ctx context.Context, title, text, yes string) (bool, error) {
	c := confirmCommand(d.GOOS, d.Look, title, text, yes)
	if c == nil {
		return false, errors.New("no dialog program here to ask you (install zenity or kdialog)")
	}
	out, err := d.command(ctx, c).Output()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		return false, nil // Cancel, closed, or timed out: zenity/kdialog exit 1 (or 5), osascript -128
	case err != nil:
		return false, fmt.Errorf("could not show the dialog (%s): %w", c[0], err)
	case d.GOOS == "windows":
		return strings.TrimSpace(string(out)) == "Ok", nil
	}
	return true, nil
}

// ShowInfo shows text in a dialog; it returns an error when no dialog program
// is available, so the caller can fall back to a notification.
func (d Desktop) ShowInfo(ctx context.Context, title, text string) error {
	c := infoCommand(d.GOOS, d.Look, title, text)
	if c == nil {
		return errors.New("no dialog program here (zenity or kdialog)")
	}
	return d.command(ctx, c).Run()
}

// command runs the program Look found for c[0], without a console window
// of its own on Windows (the tray has none to share).
func (d Desktop) command(ctx context.Context, c []string) *exec.Cmd {
	var cmd *exec.Cmd
	if p, err := d.Look(c[0]); err == nil {
		cmd = exec.CommandContext(ctx, p, c[1:]...)
	} else {
		cmd = exec.CommandContext(ctx, c[0], c[1:]...)
	}
	noConsole(cmd)
	return cmd
}

func asQuote(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

func psQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}
