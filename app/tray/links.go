package tray

import (
	"log/slog"
	"os"
	"os/exec"
	"strings"

	"github.com/ghostwire/ghostwire/app/tray/autostart"
)

// openLinkCommand is how the menu-bar app hands a link it received (macOS
// delivers links to the running app) to `ghostwire open-link`: the same
// program, in a process of its own with no terminal, so the link is
// checked, shown and confirmed in a dialog exactly as on the other systems.
func openLinkCommand(exe, link string) (*exec.Cmd, bool) {
	if !strings.HasPrefix(strings.ToLower(link), autostart.LinkScheme+":") {
		return nil, false // LaunchServices only sends our scheme; anything else is ignored
	}
	return exec.Command(exe, append(append([]string(nil), autostart.OpenLinkArgs...), link)...), true
}

func handleLink(link string, log *slog.Logger) {
	exe, err := os.Executable()
	if err != nil {
		log.Error("cannot run open-link for a link", "err", err)
		return
	}
	cmd, ok := openLinkCommand(exe, link)
	if !ok {
		log.Warn("ignored a link that is not ghostwire://", "link_scheme", strings.SplitN(link, ":", 2)[0])
		return
	}
	log.Info("a ghostwire:// link was opened: asking before anything is added")
	if err := cmd.Start(); err != nil {
		log.Error("cannot run open-link for a link", "err", err)
		return
	}
	go func() { _ = cmd.Wait() }()
}
