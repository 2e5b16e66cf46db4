package service

import (
	"strings"
	"testing"

	"howett.net/plist"
)

// The LaunchDaemon parses back (as launchd would read it) to the job we
// mean: label, program and arguments (with characters XML must escape),
// started at boot, kept alive, logging where macOS users look.
func TestLaunchDaemonPlist(t *testing.T) {
	b, err := LaunchDaemonPlist(Spec{Executable: "/Applications/Ghost & Wire.app/Contents/MacOS/ghostwire", Args: []string{"daemon", "--log-level=<info>"}})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(b), `<?xml version="1.0" encoding="UTF-8"?>`) || !strings.Contains(string(b), "<!DOCTYPE plist") {
		t.Errorf("not an XML property list:\n%s", b)
	}
	var got map[string]any
	format, err := plist.Unmarshal(b, &got)
	if err != nil || format != plist.XMLFormat {
		t.Fatalf("parse back: %v (format %d)\n%s", err, format, b)
	}
	want := map[string]any{
		"Label":             "com.ghostwire.daemon",
		"RunAtLoad":         true,
		"KeepAlive":         true,
		"StandardOutPath":   "/Library/Logs/ghostwire/daemon.log",
		"StandardErrorPath": "/Library/Logs/ghostwire/daemon.log",
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %#v, want %#v", k, got[k], v)
		}
	}
	args, _ := got["ProgramArguments"].([]any)
	if len(args) != 3 || args[0] != "/Applications/Ghost & Wire.app/Contents/MacOS/ghostwire" || args[1] != "daemon" || args[2] != "--log-level=<info>" {
		t.Errorf("ProgramArguments = %#v", got["ProgramArguments"])
	}
	if n, _ := got["ExitTimeOut"].(uint64); n < 10 {
		t.Errorf("ExitTimeOut %v: launchd would kill the daemon before it restores routes and DNS", got["ExitTimeOut"])
	}
	if _, err := LaunchDaemonPlist(Spec{Executable: "ghostwire"}); err == nil {
		t.Error("a relative program path was accepted")
	}
}
