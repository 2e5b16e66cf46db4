package service

import "testing"

func TestQuotedCommandLine(t *testing.T) {
	exe := `C:\Program Files\Ghostwire\ghostwire.exe`
	for _, c := range []struct {
		in, exe, want string
		ok            bool
	}{
		{exe + " daemon", exe, `"` + exe + `" daemon`, true},
		{`c:\program files\ghostwire\GHOSTWIRE.EXE daemon`, exe, `"` + exe + `" daemon`, true}, // paths compare without case
		{exe, exe, `"` + exe + `"`, true},
		{`"` + exe + `" daemon`, exe, "", false},                         // already quoted
		{`C:\gw\ghostwire.exe daemon`, `C:\gw\ghostwire.exe`, "", false}, // no space: nothing to fix
		{`C:\Program Files\Other\x.exe daemon`, exe, "", false},          // not us
		{exe + "x daemon", exe, "", false},
	} {
		got, ok := quotedCommandLine(c.in, c.exe)
		if got != c.want || ok != c.ok {
			t.Errorf("quotedCommandLine(%q) = %q %v, want %q %v", c.in, got, ok, c.want, c.ok)
		}
	}
}
