package tray

import (
	"slices"
	"testing"
)

func TestOpenLinkCommand(t *testing.T) {
	cmd, ok := openLinkCommand("/Applications/Ghostwire.app/Contents/MacOS/ghostwire", "ghostwire://connect?server=https://vpn.example.com")
	if !ok || !slices.Equal(cmd.Args, []string{"/Applications/Ghostwire.app/Contents/MacOS/ghostwire", "open-link", "ghostwire://connect?server=https://vpn.example.com"}) {
		t.Fatalf("%v %v", ok, cmd)
	}
	if cmd.Stdin != nil {
		t.Error("open-link must not get a terminal: it asks in a dialog")
	}
	for _, bad := range []string{"https://evil.example", "file:///etc/passwd", ""} {
		if _, ok := openLinkCommand("/x", bad); ok {
			t.Errorf("%q must be ignored", bad)
		}
	}
}
