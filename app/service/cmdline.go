package service

import "strings"

// quotedCommandLine returns cmdline with its program path exe quoted when
// it has spaces and no quotes (ok false when there is nothing to fix, or
// when cmdline does not start with exe). Windows reads an unquoted
// `C:\Program Files\Ghostwire\ghostwire.exe daemon` as C:\Program.exe with
// arguments first: anyone able to write C:\Program.exe would run as SYSTEM.
func quotedCommandLine(cmdline, exe string) (string, bool) {
	if strings.HasPrefix(cmdline, `"`) || !strings.Contains(exe, " ") {
		return "", false
	}
	if len(cmdline) < len(exe) || !strings.EqualFold(cmdline[:len(exe)], exe) {
		return "", false
	}
	rest := cmdline[len(exe):]
	if rest != "" && rest[0] != ' ' {
		return "", false // a longer program name that merely starts like ours
	}
	return `"` + exe + `"` + rest, true
}
