package menu

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/ghostwire/ghostwire/app/localapi"
)

var now = time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)

func at(d time.Duration) *time.Time { t := now.Add(d); return &t }

func prof(state localapi.State) localapi.Profile {
	return localapi.Profile{Name: "prod", Server: "https://vpn.example.com", State: state}
}

func input(ps ...localapi.Profile) Input {
	return Input{
		Status:          localapi.Status{DaemonVersion: "0.9.0", Seq: 7, Profiles: ps},
		DaemonReachable: true,
		DialogAvailable: true,
		Version:         "1.0.0",
		GOOS:            "linux",
		Now:             now,
	}
}

// shown renders the visible items of m as "Title" plus flags: [x] checked, [ ]
// unchecked checkbox, (off) disabled. Separators are "---".
func shown(m Model) []string {
	var out []string
	for _, it := range m.Items {
		if !it.Visible {
			continue
		}
		if it.Separator {
			out = append(out, "---")
			continue
		}
		s := it.Title
		if it.Checkable {
			if it.Checked {
				s = "[x] " + s
			} else {
				s = "[ ] " + s
			}
		}
		if !it.Enabled {
			s += " (off)"
		}
		out = append(out, s)
	}
	return out
}

var tail = []string{"---", "[ ] Start at login", "Open log", "About Ghostwire 1.0.0", "Quit"}

func want(head ...string) []string { return append(head, tail...) }

func TestEveryState(t *testing.T) {
	signingIn := prof(localapi.StateSigningIn)
	signingIn.SignIn = &localapi.SignInPrompt{VerificationURI: "https://login.example.com/device", UserCode: "ABCD-EFGH",
		ExpiresAt: now.Add(14*time.Minute + 10*time.Second), Seq: 3}
	browser := prof(localapi.StateSigningIn)
	browser.SignIn = &localapi.SignInPrompt{BrowserURL: "https://login.example.com/authorize?x=1", Seq: 4}
	connected := prof(localapi.StateConnected)
	connected.User, connected.Address = "alice@example.com", "100.64.0.7/32"
	connected.SessionExpiresAt = at(8 * time.Hour)
	nearEnd := connected
	nearEnd.SessionExpiresAt = at(41*time.Minute + 30*time.Second)
	reconnecting := connected
	reconnecting.State, reconnecting.Reason = localapi.StateReconnecting, "server restarted, registering again"
	needs := prof(localapi.StateNeedsSignIn)
	failed := prof(localapi.StateError)
	failed.Reason = "your account is not in the group allowed to use this VPN (ask your admin to add you to VPN Users)"
	noDaemon := input()
	noDaemon.DaemonReachable, noDaemon.DaemonErrCode = false, localapi.CodeNoDaemon
	noDaemon.Status = localapi.Status{Profiles: []localapi.Profile{connected}} // stale: must be ignored
	forbidden := noDaemon
	forbidden.DaemonErrCode = localapi.CodeForbidden
	pending := input()
	pending.DaemonReachable, pending.DaemonPending = false, true
	noDialog := input()
	noDialog.DialogAvailable = false

	tests := []struct {
		name string
		in   Input
		icon Icon
		want []string
	}{
		{"no profile yet", input(), IconDisconnected, want("Not connected (off)", "No cluster yet: choose Add cluster… (off)",
			"Connect (off)", "---", "Add cluster…")},
		{"tray just started", pending, IconDisconnected, want("Looking for the ghostwire service… (off)", "Connect (off)", "---",
			"Add cluster… (off)")},
		{"no dialog program", noDialog, IconDisconnected, want("Not connected (off)", "No cluster yet: choose Add cluster… (off)",
			"Connect (off)", "---", "Add cluster: run ghostwire up https://<server> (off)")},
		{"disconnected", input(prof(localapi.StateDisconnected)), IconDisconnected, want("Disconnected (off)",
			"prod (vpn.example.com) (off)", "Connect to prod", "---", "[ ] prod — off", "Add cluster…")},
		{"signing in with a code", input(signingIn), IconConnecting, want("Signing in to prod… (off)",
			"Finish signing in in your browser (within 15 min) (off)", "Sign in: code ABCD-EFGH", "Cancel", "---",
			"[x] prod — signing in", "Add cluster…")},
		{"signing in in the browser", input(browser), IconConnecting, want("Signing in to prod… (off)",
			"Finish signing in in your browser (off)", "Sign in: open the browser", "Cancel", "---",
			"[x] prod — signing in", "Add cluster…")},
		{"registering", input(prof(localapi.StateRegistering)), IconConnecting, want("Connecting to prod… (off)", "Cancel",
			"---", "[x] prod — connecting", "Add cluster…")},
		{"connected", input(connected), IconConnected, want("Connected to prod (off)", "alice@example.com · 100.64.0.7 (off)",
			"Disconnect", "Copy my address (100.64.0.7)", "---", "[x] prod — connected", "Add cluster…")},
		{"connected, session near its end", input(nearEnd), IconConnected, want("Connected to prod (off)",
			"alice@example.com · 100.64.0.7 (off)", "Disconnect", "Session ends in 42 min — Extend",
			"Copy my address (100.64.0.7)", "---", "[x] prod — connected", "Add cluster…")},
		{"reconnecting", input(reconnecting), IconDegraded, want("Reconnecting to prod… (off)",
			"server restarted, registering again (off)", "Disconnect", "Copy my address (100.64.0.7)", "---",
			"[x] prod — reconnecting", "Add cluster…")},
		{"needs sign-in", input(needs), IconNeedsSignIn, want("Sign-in needed for prod (off)",
			"Your sign-in ended; sign in again to reconnect (off)", "Sign in again…", "Disconnect", "---",
			"[ ] prod — sign-in needed", "Add cluster…")},
		{"error", input(failed), IconError, want("Could not connect to prod (off)",
			"your account is not in the group allowed to use this VPN (ask your admin to add you to VP… (off)",
			"Try again: connect to prod", "---", "[ ] prod — error", "Add cluster…")},
		{"daemon not running", noDaemon, IconNoDaemon, want("Ghostwire service is not running (off)",
			"Start it: sudo systemctl start ghostwire; retrying by itself (off)", "Connect (off)", "---", "Add cluster… (off)")},
		{"daemon forbids us", forbidden, IconNoDaemon, want("You may not use the ghostwire service (off)",
			"Ask your admin to add you to the ghostwire group (off)", "Connect (off)", "---", "Add cluster… (off)")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := Build(tt.in)
			if got := shown(m); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("menu:\n got %q\nwant %q", got, tt.want)
			}
			if m.Icon != tt.icon {
				t.Errorf("icon = %q, want %q", m.Icon, tt.icon)
			}
			st, _ := m.Item(IDStatus)
			if !strings.HasPrefix(m.Tooltip, st.Title) {
				t.Errorf("tooltip %q does not start with the status line %q", m.Tooltip, st.Title)
			}
		})
	}
}

// The status line, Connect and the detail are enabled=false (info only) and
// every clickable item carries the action the tray needs, with its arguments.
func TestActions(t *testing.T) {
	signingIn := prof(localapi.StateSigningIn)
	signingIn.SignIn = &localapi.SignInPrompt{VerificationURI: "https://login.example.com/device",
		VerificationURIComplete: "https://login.example.com/device?code=ABCD-EFGH", UserCode: "ABCD-EFGH", Seq: 1}
	m := Build(input(signingIn))
	check := func(id string, want Action) {
		t.Helper()
		it, ok := m.Item(id)
		if !ok || !it.Visible || !it.Enabled {
			t.Fatalf("%s: missing, hidden or disabled: %+v", id, it)
		}
		if it.Action != want {
			t.Errorf("%s: action %+v, want %+v", id, it.Action, want)
		}
	}
	check(IDSignIn, Action{Kind: SignIn, Profile: "prod", URL: "https://login.example.com/device?code=ABCD-EFGH", Code: "ABCD-EFGH"})
	check(IDDisconnect, Action{Kind: Disconnect, Profile: "prod"})
	check(ProfileID("prod"), Action{Kind: ToggleProfile, Profile: "prod"})
	check(IDQuit, Action{Kind: Quit})
	check(IDAutostart, Action{Kind: ToggleAutostart})

	m = Build(input(prof(localapi.StateDisconnected)))
	check(IDConnect, Action{Kind: Connect, Profile: "prod"})
	check(IDAddCluster, Action{Kind: AddCluster})
	about, _ := m.Item(IDAbout)
	if !strings.Contains(about.Action.Text, "Ghostwire 1.0.0") || !strings.Contains(about.Action.Text, "Service (daemon): 0.9.0") {
		t.Errorf("about text %q lacks the versions", about.Action.Text)
	}

	c := prof(localapi.StateConnected)
	c.Address, c.ExpiresAt = "fd00:77::9/128", at(10*time.Minute)
	m = Build(input(c))
	check(IDCopyAddress, Action{Kind: CopyAddress, Text: "fd00:77::9"})
	check(IDExtend, Action{Kind: Extend, Profile: "prod"})

	m = Build(input(prof(localapi.StateNeedsSignIn)))
	check(IDLogin, Action{Kind: Login, Profile: "prod"})

	in := input(prof(localapi.StateDisconnected))
	in.Autostart, in.AutostartErr = false, "start at login is not supported on plan9 yet"
	it, _ := Build(in).Item(IDAutostart)
	if it.Enabled || it.Tooltip != in.AutostartErr {
		t.Errorf("autostart must be disabled with the reason: %+v", it)
	}
	in.Autostart, in.AutostartErr = true, ""
	if it, _ := Build(in).Item(IDAutostart); !it.Checked || !it.Enabled {
		t.Errorf("autostart on must be checked: %+v", it)
	}
}

func TestSeveralProfiles(t *testing.T) {
	dev := localapi.Profile{Name: "dev", Server: "https://dev.example.com", State: localapi.StateConnected, Address: "10.9.0.2/32"}
	prod := localapi.Profile{Name: "prod", Server: "https://prod.example.com", State: localapi.StateReconnecting}
	stage := localapi.Profile{Name: "stage", Server: "https://stage.example.com", State: localapi.StateDisconnected}
	m := Build(input(dev, prod, stage))
	want := want("Reconnecting to prod… (off)", "Traffic stopped; restoring the tunnel by itself (off)",
		"Disconnect all", "---", "[x] dev — connected", "[x] prod — reconnecting", "[ ] stage — off", "Add cluster…")
	if got := shown(m); !reflect.DeepEqual(got, want) {
		t.Errorf("menu:\n got %q\nwant %q", got, want)
	}
	if m.Icon != IconDegraded {
		t.Errorf("icon = %q: the one in trouble decides", m.Icon)
	}
	if d, _ := m.Item(IDDisconnect); d.Action != (Action{Kind: Disconnect, All: true}) {
		t.Errorf("disconnect all: %+v", d.Action)
	}
	// All off: the first (default) profile is the one Connect acts on.
	dev.State, prod.State = localapi.StateDisconnected, localapi.StateDisconnected
	if c, _ := Build(input(dev, prod, stage)).Item(IDConnect); c.Action != (Action{Kind: Connect, Profile: "dev"}) {
		t.Errorf("connect acts on %+v, want the first profile", c.Action)
	}
}

// A connection's life: the menu follows each status the daemon sends, and its
// shape (the item IDs) changes only when the profiles do.
func TestTransitions(t *testing.T) {
	p := prof(localapi.StateDisconnected)
	steps := []struct {
		change func(*Input)
		status string
		icon   Icon
		has    string // an item that must be visible and enabled
		hasNot string // an item that must be hidden
	}{
		{func(in *Input) {}, "Disconnected", IconDisconnected, IDConnect, IDDisconnect},
		{func(in *Input) {
			in.Status.Profiles[0].State = localapi.StateSigningIn
			in.Status.Profiles[0].SignIn = &localapi.SignInPrompt{VerificationURI: "https://l/device", UserCode: "WXYZ-1234", Seq: 1}
		}, "Signing in to prod…", IconConnecting, IDSignIn, IDConnect},
		{func(in *Input) {
			in.Status.Profiles[0].State, in.Status.Profiles[0].SignIn = localapi.StateRegistering, nil
		}, "Connecting to prod…", IconConnecting, IDDisconnect, IDSignIn},
		{func(in *Input) {
			in.Status.Profiles[0].State, in.Status.Profiles[0].Address = localapi.StateConnected, "100.64.0.9/32"
		}, "Connected to prod", IconConnected, IDCopyAddress, IDConnect},
		{func(in *Input) { in.Status.Profiles[0].State = localapi.StateReconnecting }, "Reconnecting to prod…", IconDegraded, IDDisconnect, IDConnect},
		{func(in *Input) { in.Status.Profiles[0].State = localapi.StateConnected }, "Connected to prod", IconConnected, IDDisconnect, IDExtend},
		{func(in *Input) { in.Now = now.Add(time.Hour) }, "Connected to prod", IconConnected, IDExtend, IDConnect},
		{func(in *Input) { in.Status.Profiles[0].State = localapi.StateNeedsSignIn }, "Sign-in needed for prod", IconNeedsSignIn, IDLogin, IDCopyAddress},
		{func(in *Input) { in.DaemonReachable = false }, "Ghostwire service is not running", IconNoDaemon, IDQuit, ProfileID("prod")},
		{func(in *Input) { in.DaemonReachable = true; in.Status.Profiles[0].State = localapi.StateError }, "Could not connect to prod", IconError, IDConnect, IDDisconnect},
		{func(in *Input) { in.Status.Profiles[0].State = localapi.StateDisconnected }, "Disconnected", IconDisconnected, IDConnect, IDCopyAddress},
	}
	in := input(p)
	in.Status.Profiles[0].SessionExpiresAt = at(90 * time.Minute)
	var firstIDs []string
	for i, s := range steps {
		s.change(&in)
		m := Build(in)
		st, _ := m.Item(IDStatus)
		if st.Title != s.status || m.Icon != s.icon {
			t.Fatalf("step %d: status %q icon %q, want %q %q", i, st.Title, m.Icon, s.status, s.icon)
		}
		if it, ok := m.Item(s.has); !ok || !it.Visible || !it.Enabled {
			t.Errorf("step %d (%s): %s should be shown and enabled: %+v", i, s.status, s.has, it)
		}
		if it, ok := m.Item(s.hasNot); ok && it.Visible {
			t.Errorf("step %d (%s): %s should be hidden: %+v", i, s.status, s.hasNot, it)
		}
		ids := itemIDs(m)
		if in.DaemonReachable {
			if firstIDs == nil {
				firstIDs = ids
			} else if !reflect.DeepEqual(ids, firstIDs) {
				t.Errorf("step %d: menu shape changed without a profile change:\n%q\n%q", i, ids, firstIDs)
			}
		}
	}
}

func itemIDs(m Model) []string {
	var ids []string
	for _, it := range m.Items {
		ids = append(ids, it.ID)
	}
	return ids
}

func TestPromptsOpenOncePerPrompt(t *testing.T) {
	var pr Prompts
	p := prof(localapi.StateSigningIn)
	p.SignIn = &localapi.SignInPrompt{VerificationURI: "https://l/device", UserCode: "AAAA-BBBB", Seq: 1}
	st := localapi.Status{Profiles: []localapi.Profile{p}}
	if got := pr.ToOpen(st); !reflect.DeepEqual(got, []string{"https://l/device"}) {
		t.Fatalf("first prompt: %q", got)
	}
	for i := 0; i < 3; i++ { // status updates of the same prompt (Seq of Status changes, not of the prompt)
		st.Seq++
		if got := pr.ToOpen(st); got != nil {
			t.Fatalf("same prompt opened again: %q", got)
		}
	}
	p.SignIn = &localapi.SignInPrompt{BrowserURL: "https://l/authorize", Seq: 2}
	st.Profiles[0] = p
	if got := pr.ToOpen(st); !reflect.DeepEqual(got, []string{"https://l/authorize"}) {
		t.Fatalf("new prompt: %q", got)
	}
	st.Profiles[0].State = localapi.StateConnected
	if got := pr.ToOpen(st); got != nil {
		t.Fatalf("connected: %q", got)
	}
}

func TestParseServerURL(t *testing.T) {
	good := map[string]string{
		"https://vpn.example.com":         "https://vpn.example.com",
		" vpn.example.com ":               "https://vpn.example.com",
		"https://vpn.example.com:8443/":   "https://vpn.example.com:8443",
		"https://vpn.example.com/x?y=1#z": "https://vpn.example.com/x",
	}
	for in, want := range good {
		if got, err := ParseServerURL(in); err != nil || got != want {
			t.Errorf("ParseServerURL(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"", "http://vpn.example.com", "https://", "https://u:p@vpn.example.com", "ftp://x", "https://%zz"} {
		if got, err := ParseServerURL(in); err == nil {
			t.Errorf("ParseServerURL(%q) = %q, want an error", in, got)
		}
	}
}

func TestMinutes(t *testing.T) {
	for d, want := range map[time.Duration]string{
		30 * time.Second: "less than a minute", 41*time.Minute + 1: "42 min", 42 * time.Minute: "42 min",
		60 * time.Minute: "1 h", 65 * time.Minute: "1 h 5 min",
	} {
		if got := Minutes(d); got != want {
			t.Errorf("Minutes(%v) = %q, want %q", d, got, want)
		}
	}
}
