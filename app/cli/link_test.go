package cli

import (
	"bytes"
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/ghostwire/ghostwire/app/localapi"
	"github.com/ghostwire/ghostwire/app/tray/desktop"
	"github.com/ghostwire/ghostwire/server/api"
)

// linkDaemon records what open-link asks of the daemon.
type linkDaemon struct {
	localapi.Broadcaster
	mu       sync.Mutex
	profiles []localapi.Profile
	ups      []localapi.UpRequest
}

func (d *linkDaemon) Status() localapi.Status {
	d.mu.Lock()
	defer d.mu.Unlock()
	return localapi.Status{DaemonVersion: "test", Profiles: append([]localapi.Profile{}, d.profiles...)}
}
func (d *linkDaemon) Up(_ context.Context, req localapi.UpRequest) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.ups = append(d.ups, req)
	return nil
}
func (d *linkDaemon) Down(context.Context, localapi.ProfileRequest) error   { return nil }
func (d *linkDaemon) Login(context.Context, localapi.ProfileRequest) error  { return nil }
func (d *linkDaemon) Logout(context.Context, localapi.ProfileRequest) error { return nil }
func (d *linkDaemon) Extend(context.Context, localapi.ProfileRequest) error { return nil }
func (d *linkDaemon) Remove(context.Context, localapi.ProfileRequest) error { return nil }

func (d *linkDaemon) upCalls() []localapi.UpRequest {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]localapi.UpRequest(nil), d.ups...)
}

func serveLinkDaemon(t *testing.T, profiles ...localapi.Profile) (*linkDaemon, string) {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "gw.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	d := &linkDaemon{profiles: profiles}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = localapi.Serve(ctx, l, d, nil); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return d, sock
}

// fakeDialogs is a stand-in zenity (no display here): it records its
// arguments and answers with exit code answer.
type fakeDialogs struct {
	dir, log string
}

func newFakeDialogs(t *testing.T, answer int) *fakeDialogs {
	t.Helper()
	dir := t.TempDir()
	f := &fakeDialogs{dir: dir, log: filepath.Join(dir, "calls")}
	script := "#!/bin/sh\nfor a in \"$@\"; do printf '%s\\n' \"$a\" >> \"" + f.log + "\"; done\necho --- >> \"" + f.log + "\"\n" +
		"case \"$1\" in --info) exit 0;; esac\nexit " + string(rune('0'+answer)) + "\n"
	if err := os.WriteFile(filepath.Join(dir, "zenity"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *fakeDialogs) calls() string {
	b, _ := os.ReadFile(f.log)
	return string(b)
}

type linkRun struct {
	dialogs     *fakeDialogs // nil: no dialog program
	interactive bool
	stdin       string
	configErr   error
	trayStarts  int
}

func (r *linkRun) run(t *testing.T, sock, link string) (string, int) {
	t.Helper()
	var out bytes.Buffer
	app := &App{Version: "test"}
	app.link = linkHooks{
		config: func(_ context.Context, server string) (api.Config, error) {
			if r.configErr != nil {
				return api.Config{}, r.configErr
			}
			return api.Config{ServerName: "Contoso <i>prod</i>"}, nil
		},
		interactive: func() bool { return r.interactive },
		desktop: func() (desktop.Desktop, bool) {
			return desktop.Desktop{GOOS: "linux", Env: os.Getenv, Look: func(n string) (string, error) {
				if r.dialogs != nil && n == "zenity" {
					return filepath.Join(r.dialogs.dir, "zenity"), nil
				}
				return "", exec.ErrNotFound
			}}, true
		},
		ensureTray: func(context.Context) error { r.trayStarts++; return nil },
		stdin:      strings.NewReader(r.stdin),
	}
	code := app.Run(context.Background(), []string{"--socket", sock, "open-link", link}, &out, &out)
	return out.String(), code
}

const vpnLink = "ghostwire://connect?server=https://vpn.example.com"

// Clicking a link never connects before the person said yes.
func TestOpenLinkAsksFirst(t *testing.T) {
	t.Setenv("DBUS_SESSION_BUS_ADDRESS", "unix:path="+filepath.Join(t.TempDir(), "no-bus")) // refusals notify quietly
	d, sock := serveLinkDaemon(t)
	no := &linkRun{dialogs: newFakeDialogs(t, 1)}
	out, code := no.run(t, sock, vpnLink)
	if code != ExitOK || !strings.Contains(out, "Nothing was added") || len(d.upCalls()) != 0 || no.trayStarts != 0 {
		t.Fatalf("declined: exit %d, ups %v, tray %d\n%s", code, d.upCalls(), no.trayStarts, out)
	}
	asked := no.dialogs.calls()
	for _, want := range []string{"--question", "--no-markup", "--default-cancel", "vpn.example.com", "Contoso ‹i›prod‹/i›", "vpn-example-com"} {
		if !strings.Contains(asked, want) {
			t.Errorf("the question lacks %q:\n%s", want, asked)
		}
	}

	yes := &linkRun{dialogs: newFakeDialogs(t, 0)}
	out, code = yes.run(t, sock, vpnLink)
	ups := d.upCalls()
	if code != ExitOK || len(ups) != 1 || ups[0] != (localapi.UpRequest{Profile: "vpn-example-com", Server: "https://vpn.example.com"}) || yes.trayStarts != 1 {
		t.Fatalf("confirmed: exit %d, ups %+v, tray %d\n%s", code, ups, yes.trayStarts, out)
	}

	// Without any dialog program the link is refused, never followed.
	none := &linkRun{}
	out, code = none.run(t, sock, vpnLink)
	if code == ExitOK || !strings.Contains(out, "nothing was added") || len(d.upCalls()) != 1 {
		t.Errorf("no dialog program: exit %d, ups %v\n%s", code, d.upCalls(), out)
	}
	// An unreachable server (or a typo in the link) adds nothing, before asking.
	down := &linkRun{dialogs: newFakeDialogs(t, 0), configErr: errors.New("no such host")}
	out, code = down.run(t, sock, vpnLink)
	if code == ExitOK || strings.Contains(down.dialogs.calls(), "--question") || len(d.upCalls()) != 1 {
		t.Errorf("unreachable: exit %d\n%s\n%s", code, out, down.dialogs.calls())
	}
	if !strings.Contains(down.dialogs.calls(), "--info") {
		t.Errorf("the refusal must be shown in a dialog too:\n%s", down.dialogs.calls())
	}
}

func TestOpenLinkRefusesBadLinks(t *testing.T) {
	d, sock := serveLinkDaemon(t)
	for link, want := range map[string]string{
		"ghostwire://connect?server=http://vpn.example.com":              "plain http",
		"ghostwire://connect?server=https://vpn.example.com&profile=x":   "parameters ghostwire does not know",
		"ghostwire://connect?server=https://vpn.example.com&ca=LS0tLS1C": "parameters ghostwire does not know",
		"ghostwire://connect":                     "names no server",
		"ghostwire://delete?server=https://x.org": "the only one is ghostwire://connect",
		"https://vpn.example.com":                 "not a ghostwire:// link",
	} {
		r := &linkRun{dialogs: newFakeDialogs(t, 0)}
		out, code := r.run(t, sock, link)
		if code != ExitUsage || !strings.Contains(out, want) {
			t.Errorf("%s: exit %d, want %d and %q\n%s", link, code, ExitUsage, want, out)
		}
		if calls := r.dialogs.calls(); !strings.Contains(calls, "--info") || !strings.Contains(calls, want) || strings.Contains(calls, "--question") {
			t.Errorf("%s: the person must see why in a dialog, and not be asked:\n%s", link, calls)
		}
	}
	if ups := d.upCalls(); len(ups) != 0 {
		t.Errorf("a refused link reached the daemon: %v", ups)
	}
}

// A link to a server the person already has connects that profile by name:
// it cannot swap the profile's server.
func TestOpenLinkExistingProfile(t *testing.T) {
	d, sock := serveLinkDaemon(t, localapi.Profile{Name: "prod", Server: "https://vpn.example.com", State: localapi.StateDisconnected})
	r := &linkRun{dialogs: newFakeDialogs(t, 0)}
	if out, code := r.run(t, sock, vpnLink); code != ExitOK {
		t.Fatalf("exit %d\n%s", code, out)
	}
	if ups := d.upCalls(); len(ups) != 1 || ups[0] != (localapi.UpRequest{Profile: "prod"}) {
		t.Errorf("ups %+v", ups)
	}
	if !strings.Contains(r.dialogs.calls(), "Connect to prod?") {
		t.Errorf("question:\n%s", r.dialogs.calls())
	}
}

// In a terminal the question is asked there; only "y" or "yes" goes on.
func TestOpenLinkInATerminal(t *testing.T) {
	d, sock := serveLinkDaemon(t)
	for _, answer := range []string{"", "n\n", "Nope\n", "maybe\n"} {
		r := &linkRun{interactive: true, stdin: answer}
		out, code := r.run(t, sock, vpnLink)
		if code != ExitOK || !strings.Contains(out, "vpn.example.com") || !strings.Contains(out, "[y/N]") || len(d.upCalls()) != 0 {
			t.Fatalf("answer %q: exit %d ups %v\n%s", answer, code, d.upCalls(), out)
		}
	}
}

func TestOpenLinkWithoutDaemon(t *testing.T) {
	r := &linkRun{dialogs: newFakeDialogs(t, 0)}
	out, code := r.run(t, filepath.Join(t.TempDir(), "none.sock"), vpnLink)
	if code != ExitNoDaemon || strings.Contains(r.dialogs.calls(), "--question") {
		t.Errorf("exit %d\n%s", code, out)
	}
}
