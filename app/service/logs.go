package service

import "io"

// LogOutput is where the daemon writes its log: w when it runs in a
// terminal or under systemd/launchd (which keep stderr), something else
// where nobody reads stderr (a Windows service: a log file under
// %ProgramData%\ghostwire\logs, warnings and errors also to the Event Log).
func LogOutput(w io.Writer) io.Writer { return logOutput(w) }

var logOutput = func(w io.Writer) io.Writer { return w }
