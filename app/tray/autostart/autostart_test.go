package autostart

import (
	"encoding/xml"
	"io"
	"strings"
	"testing"
)

func TestDesktopEntry(t *testing.T) {
	got := DesktopEntry("/usr/bin/ghostwire")
	for _, line := range []string{"[Desktop Entry]", "Type=Application", "Exec=/usr/bin/ghostwire tray", "X-GNOME-Autostart-enabled=true", "Hidden=false"} {
		if !strings.Contains(got, line+"\n") {
			t.Errorf("desktop entry lacks %q:\n%s", line, got)
		}
	}
}

func TestExecQuoting(t *testing.T) {
	for args, want := range map[string]string{
		"/opt/Ghost Wire/ghostwire": `"/opt/Ghost Wire/ghostwire" tray`,
		`/home/a$b/100%/g"w`:        `"/home/a\\$b/100%%/g\\"w" tray`,
		"/usr/bin/ghostwire":        `/usr/bin/ghostwire tray`,
		`/x/back\slash`:             `"/x/back\\\\slash" tray`,
	} {
		if got := execLine([]string{args, "tray"}); got != want {
			t.Errorf("execLine(%q) = %s, want %s", args, got, want)
		}
	}
}

func TestLaunchAgentPlist(t *testing.T) {
	got := LaunchAgentPlist("/Applications/Ghost & Wire.app/Contents/MacOS/ghostwire")
	// It must be well-formed XML and carry the program, its argument and RunAtLoad.
	dec := xml.NewDecoder(strings.NewReader(got))
	dec.Strict = true
	var texts []string
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("plist is not well-formed: %v\n%s", err, got)
		}
		if cd, ok := tok.(xml.CharData); ok && strings.TrimSpace(string(cd)) != "" {
			texts = append(texts, string(cd))
		}
	}
	want := []string{"Label", "com.ghostwire.tray", "ProgramArguments", "/Applications/Ghost & Wire.app/Contents/MacOS/ghostwire", "tray",
		"RunAtLoad", "ProcessType", "Interactive", "LimitLoadToSessionType", "Aqua"}
	if strings.Join(texts, "|") != strings.Join(want, "|") {
		t.Errorf("plist texts %q, want %q", texts, want)
	}
	if !strings.Contains(got, "<key>RunAtLoad</key>\n\t<true/>") {
		t.Errorf("RunAtLoad must be true:\n%s", got)
	}
}

func TestRunValue(t *testing.T) {
	if got, want := RunValue(`C:\Program Files\Ghostwire\ghostwire.exe`), `"C:\Program Files\Ghostwire\ghostwire.exe" tray`; got != want {
		t.Errorf("RunValue = %s, want %s", got, want)
	}
}

func TestLauncherAndLinkHandlerEntries(t *testing.T) {
	l := LauncherEntry("/usr/bin/ghostwire")
	for _, line := range []string{"Exec=/usr/bin/ghostwire tray", "Categories=Network;", "Type=Application"} {
		if !strings.Contains(l, "\n"+line+"\n") {
			t.Errorf("launcher lacks %q:\n%s", line, l)
		}
	}
	h := LinkHandlerEntry("/opt/Ghost Wire/ghostwire")
	for _, line := range []string{`Exec="/opt/Ghost Wire/ghostwire" open-link %u`, "MimeType=x-scheme-handler/ghostwire;", "NoDisplay=true"} {
		if !strings.Contains(h, "\n"+line+"\n") {
			t.Errorf("link handler lacks %q:\n%s", line, h)
		}
	}
}
