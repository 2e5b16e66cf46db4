package service

import (
	"fmt"
	"path/filepath"

	"howett.net/plist"
)

// The macOS LaunchDaemon, rendered here (portable, tested everywhere) for
// `ghostwire daemon install` and for the installer package
// (packaging/macos), so both register exactly the same job.

const (
	// LaunchdLabel is the daemon's launchd job label.
	LaunchdLabel = "com.ghostwire.daemon"
	// LaunchDaemonPath is where launchd reads the system job at boot.
	LaunchDaemonPath = "/Library/LaunchDaemons/" + LaunchdLabel + ".plist"
	// MacLogDir is where the daemon's output goes: Console.app lists
	// /Library/Logs under "Log Reports".
	MacLogDir = "/Library/Logs/ghostwire"
	// MacHelperPath is where `ghostwire daemon install` copies the program
	// when it runs from a place that is not root's alone.
	MacHelperPath = "/usr/local/libexec/ghostwire/ghostwire"
)

// launchdJob is the subset of launchd.plist(5) the daemon uses.
type launchdJob struct {
	Label             string   `plist:"Label"`
	ProgramArguments  []string `plist:"ProgramArguments"`
	RunAtLoad         bool     `plist:"RunAtLoad"`
	KeepAlive         bool     `plist:"KeepAlive"`
	ThrottleInterval  int      `plist:"ThrottleInterval,omitempty"`
	ExitTimeOut       int      `plist:"ExitTimeOut,omitempty"`
	StandardOutPath   string   `plist:"StandardOutPath,omitempty"`
	StandardErrorPath string   `plist:"StandardErrorPath,omitempty"`
}

// LaunchDaemonPlist is the system job that runs spec as root from boot on,
// restarted whenever it stops (a crash: the next start undoes what the
// crashed one left), with its log in MacLogDir. launchd sends SIGTERM on
// stop and waits ExitTimeOut seconds, enough to remove the device from
// its servers and restore routes and DNS.
func LaunchDaemonPlist(spec Spec) ([]byte, error) {
	if !filepath.IsAbs(spec.Executable) {
		return nil, fmt.Errorf("the daemon's program path must be absolute, not %q", spec.Executable)
	}
	log := filepath.Join(MacLogDir, "daemon.log")
	job := launchdJob{
		Label:             LaunchdLabel,
		ProgramArguments:  append([]string{spec.Executable}, spec.Args...),
		RunAtLoad:         true,
		KeepAlive:         true,
		ThrottleInterval:  5,
		ExitTimeOut:       20,
		StandardOutPath:   log,
		StandardErrorPath: log,
	}
	b, err := plist.MarshalIndent(job, plist.XMLFormat, "\t")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}
