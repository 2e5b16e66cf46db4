package desktop

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func have(names ...string) LookPath {
	return func(n string) (string, error) {
		for _, h := range names {
			if h == n {
				return "/usr/bin/" + n, nil
			}
		}
		return "", exec.ErrNotFound
	}
}

func env(kv ...string) Env {
	return func(k string) string {
		for i := 0; i+1 < len(kv); i += 2 {
			if kv[i] == k {
				return kv[i+1]
			}
		}
		return ""
	}
}

func TestClipboardCommand(t *testing.T) {
	tests := []struct {
		goos string
		env  Env
		look LookPath
		want []string
	}{
		{"linux", env("WAYLAND_DISPLAY", "wayland-0"), have("wl-copy", "xclip"), []string{"wl-copy"}},
		{"linux", env(), have("wl-copy", "xclip"), []string{"xclip", "-selection", "clipboard"}},
		{"linux", env("WAYLAND_DISPLAY", "wayland-0"), have("xsel"), []string{"xsel", "--clipboard", "--input"}},
		{"linux", env(), have(), nil},
		{"darwin", env(), have("pbcopy"), []string{"pbcopy"}},
		{"windows", env(), have("clip.exe"), []string{"clip.exe"}},
	}
	for _, tt := range tests {
		if got := clipboardCommand(tt.goos, tt.env, tt.look); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s: %q, want %q", tt.goos, got, tt.want)
		}
	}
	d := Desktop{GOOS: "linux", Env: env(), Look: have()}
	if err := d.Copy(context.Background(), "x"); err == nil {
		t.Error("Copy without any clipboard program must say what to install")
	}
}

func TestAskCommand(t *testing.T) {
	if got := askCommand("linux", have(), "t", "p", "d"); got != nil {
		t.Errorf("no dialog program: %q", got)
	}
	if got := askCommand("linux", have("kdialog"), "t", "p", "d"); !reflect.DeepEqual(got, []string{"kdialog", "--title", "t", "--inputbox", "p", "d"}) {
		t.Errorf("kdialog: %q", got)
	}
	if got := askCommand("linux", have("zenity", "kdialog"), "t", "p", "d"); got[0] != "zenity" {
		t.Errorf("zenity first: %q", got)
	}
	got := askCommand("darwin", have(), "Add", `say "hi"`, "https://")
	if want := `text returned of (display dialog "say \"hi\"" default answer "https://" with title "Add")`; got[2] != want {
		t.Errorf("osascript: %s", got[2])
	}
	got = askCommand("windows", have(), "Add", "it's", "https://")
	if want := "Add-Type -AssemblyName Microsoft.VisualBasic; [Microsoft.VisualBasic.Interaction]::InputBox('it''s','Add','https://')"; got[4] != want {
		t.Errorf("powershell: %s", got[4])
	}
}

// A real run of the dialog path with a stand-in program named zenity (the real
// zenity needs a display and a person): the answer it prints comes back, and
// exit status 1 (Cancel) is ErrCancelled.
func TestAskServerURLRunsTheDialog(t *testing.T) {
	dir := t.TempDir()
	script := filepath.Join(dir, "zenity")
	write := func(body string) {
		if err := os.WriteFile(script, []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	d := Desktop{GOOS: "linux", Env: env(), Look: func(n string) (string, error) {
		if n == "zenity" {
			return script, nil
		}
		return "", exec.ErrNotFound
	}}
	write(`echo "  https://vpn.example.com "`)
	if got, err := d.AskServerURL(context.Background()); err != nil || got != "https://vpn.example.com" {
		t.Fatalf("answer: %q, %v", got, err)
	}
	write("exit 1")
	if _, err := d.AskServerURL(context.Background()); !errors.Is(err, ErrCancelled) {
		t.Fatalf("cancel: %v", err)
	}
}

func TestConfirmCommand(t *testing.T) {
	if got := confirmCommand("linux", have(), "t", "x", "Go"); got != nil {
		t.Errorf("no dialog program: %q", got)
	}
	got := confirmCommand("linux", have("zenity"), "Add?", "<b>x</b>", "Go")
	want := []string{"zenity", "--question", "--no-markup", "--default-cancel", "--title=Add?", "--text=<b>x</b>", "--ok-label=Go", "--cancel-label=Cancel"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("zenity: %q", got)
	}
	if got := confirmCommand("linux", have("kdialog"), "t", "x", "Go"); !reflect.DeepEqual(got, []string{"kdialog", "--title", "t", "--yes-label", "Go", "--no-label", "Cancel", "--warningyesno", "x"}) {
		t.Errorf("kdialog: %q", got)
	}
	got = confirmCommand("darwin", have(), "Add?", `a "b"`, "Go")
	if want := `display dialog "a \"b\"" with title "Add?" buttons {"Cancel", "Go"} default button "Cancel" cancel button "Cancel" with icon caution`; got[2] != want {
		t.Errorf("osascript: %s", got[2])
	}
	got = confirmCommand("windows", have(), "Add?", "it's", "Go")
	if !strings.Contains(got[4], "MsgBox('it''s\n\n(OK: Go)',305,'Add?')") {
		t.Errorf("powershell: %s", got[4])
	}
}

// A stand-in zenity: exit 0 is yes, exit 1 (Cancel, or the window closed) is no.
func TestConfirmRunsTheDialog(t *testing.T) {
	dir := t.TempDir()
	script := filepath.Join(dir, "zenity")
	d := Desktop{GOOS: "linux", Env: env(), Look: func(n string) (string, error) {
		if n == "zenity" {
			return script, nil
		}
		return "", exec.ErrNotFound
	}}
	for body, want := range map[string]bool{"exit 0": true, "exit 1": false, "exit 5": false} {
		if err := os.WriteFile(script, []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
			t.Fatal(err)
		}
		if got, err := d.Confirm(context.Background(), "t", "x", "Go"); err != nil || got != want {
			t.Errorf("%s: %v %v, want %v", body, got, err, want)
		}
	}
	none := Desktop{GOOS: "linux", Env: env(), Look: have()}
	if ok, err := none.Confirm(context.Background(), "t", "x", "Go"); ok || err == nil {
		t.Errorf("without a dialog program: %v %v", ok, err)
	}
}
