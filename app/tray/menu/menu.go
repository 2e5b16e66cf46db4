// Package menu turns the daemon's state into the tray's menu: titles, which
// items are enabled, checked and visible, and what a click does. It is pure (no
// systray, no I/O) so every state and transition is unit-tested; the tray only
// renders what Build returns.
package menu

import (
	"time"

	"github.com/ghostwire/ghostwire/app/localapi"
)

// Icon names the tray icon for a state; the names match the files in assets/icons.
type Icon string

// The tray icons, one per state a person must be able to tell apart at a glance.
const (
	IconDisconnected Icon = "disconnected"
	IconConnecting   Icon = "connecting" // signing in or registering
	IconConnected    Icon = "connected"
	IconDegraded     Icon = "degraded" // reconnecting
	IconNeedsSignIn  Icon = "needs-sign-in"
	IconError        Icon = "error"
	IconNoDaemon     Icon = "no-daemon"
)

// Icons lists every icon, in a stable order (for generators and tests).
var Icons = []Icon{IconDisconnected, IconConnecting, IconConnected, IconDegraded, IconNeedsSignIn, IconError, IconNoDaemon}

// Kind is what clicking an item does.
type Kind int

// Item actions. The tray maps each to one local API call or local effect.
const (
	None            Kind = iota
	Connect              // Client.Up(Profile)
	Disconnect           // Client.Down(Profile or All)
	ToggleProfile        // Up or Down on Profile depending on Checked
	SignIn               // open URL in the browser and copy Code to the clipboard
	Login                // Client.Login(Profile): start a new sign-in
	Extend               // Client.Extend(Profile)
	CopyAddress          // copy Text to the clipboard
	AddCluster           // ask for a server URL, then Client.Up(Server)
	ToggleAutostart      // register or unregister start at login
	OpenLog              // open the log file
	About                // show Text
	Quit                 // leave the tray (the daemon keeps running)
)

// Action is what a click on an item asks for, with its arguments.
type Action struct {
	Kind    Kind
	Profile string
	All     bool
	URL     string
	Code    string
	Text    string
}

// Item is one menu entry. Every item is always present in the model; Visible
// hides it, so the menu's shape changes only when the list of profiles does.
type Item struct {
	ID        string
	Title     string
	Tooltip   string
	Enabled   bool
	Visible   bool
	Checkable bool
	Checked   bool
	Separator bool
	Action    Action
}

// Model is the whole tray: its icon, its tooltip and its menu.
type Model struct {
	Icon    Icon
	Tooltip string
	Items   []Item
}

// Item returns the item with id.
func (m Model) Item(id string) (Item, bool) {
	for _, it := range m.Items {
		if it.ID == id {
			return it, true
		}
	}
	return Item{}, false
}

// Input is everything the menu depends on: the daemon's Status plus what only the
// tray knows.
type Input struct {
	Status localapi.Status
	// DaemonReachable is false while the tray cannot watch the daemon; Status is
	// then ignored. DaemonErrCode is the localapi error code of the last attempt.
	DaemonReachable bool
	DaemonErrCode   string
	// DaemonPending: the tray has just started and the daemon has not answered yet.
	DaemonPending bool
	// Autostart is whether the tray starts at login; AutostartErr, when set, says
	// why it cannot be changed here (the item is then disabled).
	Autostart    bool
	AutostartErr string
	// DialogAvailable: a dialog can ask for a server URL (zenity, kdialog, osascript...).
	DialogAvailable bool
	Version         string
	GOOS            string
	Now             time.Time
}

// ExtendWindow is how close to its end a session must be for the menu to offer Extend.
const ExtendWindow = 60 * time.Minute

// Item IDs that are not per profile.
const (
	IDStatus      = "status"
	IDDetail      = "detail"
	IDSignIn      = "sign-in"
	IDLogin       = "login"
	IDConnect     = "connect"
	IDDisconnect  = "disconnect"
	IDExtend      = "extend"
	IDCopyAddress = "copy-address"
	IDAddCluster  = "add-cluster"
	IDAutostart   = "autostart"
	IDOpenLog     = "open-log"
	IDAbout       = "about"
	IDQuit        = "quit"
	profilePrefix = "profile:"
)

// ProfileID is the item ID of a profile's entry.
func ProfileID(name string) string { return profilePrefix + name }

// Build returns the menu for in.
func Build(in Input) Model {
	var items []Item
	add := func(it Item) { items = append(items, it) }
	sep := func(id string) { add(Item{ID: id, Separator: true, Visible: true}) }

	st := in.Status
	if !in.DaemonReachable {
		st = localapi.Status{}
	}
	p, hasPrimary := Primary(st)

	title, detail, icon := headline(in, p, hasPrimary)
	add(Item{ID: IDStatus, Title: title, Visible: true})
	detailItem := Item{ID: IDDetail, Title: detail, Visible: detail != ""}
	if hasPrimary && in.DaemonReachable && p.Reason != "" {
		detailItem.Tooltip = p.Reason // the line may be cut; the tooltip has it all
	}
	add(detailItem)

	// Sign-in: the code (device flow) or the browser (interactive).
	signIn := Item{ID: IDSignIn, Enabled: true}
	if hasPrimary && p.SignIn != nil {
		signIn.Visible = true
		signIn.Action = Action{Kind: SignIn, Profile: p.Name, URL: PromptURL(p.SignIn), Code: p.SignIn.UserCode}
		if p.SignIn.UserCode != "" {
			signIn.Title = "Sign in: code " + p.SignIn.UserCode
			signIn.Tooltip = "Opens " + PromptURL(p.SignIn) + " and copies the code"
		} else {
			signIn.Title = "Sign in: open the browser"
			signIn.Tooltip = "Opens the sign-in page again"
		}
	}
	add(signIn)
	login := Item{ID: IDLogin, Title: "Sign in again…", Enabled: true}
	if hasPrimary && p.State == localapi.StateNeedsSignIn && p.SignIn == nil {
		login.Visible = true
		login.Action = Action{Kind: Login, Profile: p.Name}
	}
	add(login)

	// Connect / Disconnect.
	connect := Item{ID: IDConnect, Title: "Connect", Visible: true}
	switch {
	case !in.DaemonReachable:
		connect.Tooltip = "The ghostwire service is not running"
	case !hasPrimary:
		connect.Tooltip = "Add a cluster first"
	case isActive(p.State) || p.State == localapi.StateNeedsSignIn:
		connect.Visible = false
	default:
		connect.Enabled = true
		connect.Title = "Connect to " + p.Name
		if p.State == localapi.StateError {
			connect.Title = "Try again: connect to " + p.Name
		}
		connect.Action = Action{Kind: Connect, Profile: p.Name}
	}
	add(connect)
	disconnect := Item{ID: IDDisconnect, Title: "Disconnect", Enabled: true}
	if active := activeProfiles(st); len(active) > 0 {
		disconnect.Visible = true
		switch {
		case len(active) > 1:
			disconnect.Title = "Disconnect all"
			disconnect.Action = Action{Kind: Disconnect, All: true}
		default:
			a := active[0]
			if a.State == localapi.StateSigningIn || a.State == localapi.StateRegistering {
				disconnect.Title = "Cancel"
			}
			disconnect.Action = Action{Kind: Disconnect, Profile: a.Name}
		}
	}
	add(disconnect)

	extend := Item{ID: IDExtend, Enabled: true}
	if hasPrimary && p.State == localapi.StateConnected {
		if end, ok := SessionEnd(p); ok && end.Sub(in.Now) <= ExtendWindow && end.After(in.Now) {
			extend.Visible = true
			extend.Title = "Session ends in " + Minutes(end.Sub(in.Now)) + " — Extend"
			extend.Action = Action{Kind: Extend, Profile: p.Name}
		}
	}
	add(extend)
	copyAddr := Item{ID: IDCopyAddress, Enabled: true}
	if hasPrimary && (p.State == localapi.StateConnected || p.State == localapi.StateReconnecting) && p.Address != "" {
		addr := HostAddress(p.Address)
		copyAddr.Visible = true
		copyAddr.Title = "Copy my address (" + addr + ")"
		copyAddr.Action = Action{Kind: CopyAddress, Text: addr}
	}
	add(copyAddr)

	sep("sep-profiles")
	for _, pr := range st.Profiles {
		add(Item{
			ID:        ProfileID(pr.Name),
			Title:     pr.Name + " — " + StateWord(pr.State),
			Tooltip:   pr.Server,
			Enabled:   true,
			Visible:   true,
			Checkable: true,
			Checked:   isActive(pr.State),
			Action:    Action{Kind: ToggleProfile, Profile: pr.Name},
		})
	}
	addCluster := Item{ID: IDAddCluster, Title: "Add cluster…", Visible: true}
	switch {
	case !in.DaemonReachable:
		addCluster.Tooltip = "The ghostwire service is not running"
	case in.DialogAvailable:
		addCluster.Enabled = true
		addCluster.Action = Action{Kind: AddCluster}
	default:
		addCluster.Title = "Add cluster: run ghostwire up https://<server>"
		addCluster.Tooltip = "No dialog program here (zenity or kdialog): use the command in a terminal"
	}
	add(addCluster)

	sep("sep-app")
	auto := Item{ID: IDAutostart, Title: "Start at login", Visible: true, Checkable: true, Checked: in.Autostart,
		Enabled: in.AutostartErr == "", Tooltip: in.AutostartErr, Action: Action{Kind: ToggleAutostart}}
	add(auto)
	add(Item{ID: IDOpenLog, Title: "Open log", Visible: true, Enabled: true, Action: Action{Kind: OpenLog}})
	add(Item{ID: IDAbout, Title: "About Ghostwire " + orUnknown(in.Version), Visible: true, Enabled: true,
		Action: Action{Kind: About, Text: AboutText(in)}})
	add(Item{ID: IDQuit, Title: "Quit", Visible: true, Enabled: true, Tooltip: "Closes this menu; the connection stays as it is",
		Action: Action{Kind: Quit}})

	tip := title
	if detail != "" {
		tip += "\n" + detail
	}
	return Model{Icon: icon, Tooltip: tip, Items: items}
}

// headline is the status line, the detail line under it and the icon.
func headline(in Input, p localapi.Profile, ok bool) (title, detail string, icon Icon) {
	if in.DaemonPending && !in.DaemonReachable {
		return "Looking for the ghostwire service…", "", IconDisconnected
	}
	if !in.DaemonReachable {
		if in.DaemonErrCode == localapi.CodeForbidden {
			return "You may not use the ghostwire service", "Ask your admin to add you to the ghostwire group", IconNoDaemon
		}
		return "Ghostwire service is not running", HowToStart(in.GOOS), IconNoDaemon
	}
	if !ok {
		return "Not connected", "No cluster yet: choose Add cluster…", IconDisconnected
	}
	reason := func(def string) string {
		if p.Reason != "" {
			return Shorten(p.Reason, 90)
		}
		return def
	}
	switch p.State {
	case localapi.StateSigningIn:
		d := "Finish signing in in your browser"
		if p.SignIn != nil && !p.SignIn.ExpiresAt.IsZero() && p.SignIn.ExpiresAt.After(in.Now) {
			d += " (within " + Minutes(p.SignIn.ExpiresAt.Sub(in.Now)) + ")"
		}
		return "Signing in to " + p.Name + "…", d, IconConnecting
	case localapi.StateRegistering:
		return "Connecting to " + p.Name + "…", reason(""), IconConnecting
	case localapi.StateConnected:
		return "Connected to " + p.Name, joinNonEmpty(" · ", p.User, HostAddress(p.Address)), IconConnected
	case localapi.StateReconnecting:
		return "Reconnecting to " + p.Name + "…", reason("Traffic stopped; restoring the tunnel by itself"), IconDegraded
	case localapi.StateNeedsSignIn:
		return "Sign-in needed for " + p.Name, reason("Your sign-in ended; sign in again to reconnect"), IconNeedsSignIn
	case localapi.StateError:
		return "Could not connect to " + p.Name, reason("Unknown error: see the log"), IconError
	default:
		return "Disconnected", p.Name + " (" + hostOf(p.Server) + ")", IconDisconnected
	}
}

// Primary is the profile the status line, Connect and the sign-in item are
// about: the one that most needs attention, else the first one (the default).
func Primary(st localapi.Status) (localapi.Profile, bool) {
	if len(st.Profiles) == 0 {
		return localapi.Profile{}, false
	}
	best, bestRank := 0, rank(st.Profiles[0].State)
	for i, p := range st.Profiles[1:] {
		if r := rank(p.State); r < bestRank {
			best, bestRank = i+1, r
		}
	}
	return st.Profiles[best], true
}

func rank(s localapi.State) int {
	switch s {
	case localapi.StateSigningIn:
		return 0
	case localapi.StateNeedsSignIn:
		return 1
	case localapi.StateReconnecting:
		return 2
	case localapi.StateRegistering:
		return 3
	case localapi.StateError:
		return 4
	case localapi.StateConnected:
		return 5
	default:
		return 6
	}
}

// isActive: the daemon holds or is building this profile's connection.
func isActive(s localapi.State) bool {
	switch s {
	case localapi.StateSigningIn, localapi.StateRegistering, localapi.StateConnected, localapi.StateReconnecting:
		return true
	}
	return false
}

func activeProfiles(st localapi.Status) []localapi.Profile {
	var out []localapi.Profile
	for _, p := range st.Profiles {
		if isActive(p.State) || p.State == localapi.StateNeedsSignIn {
			out = append(out, p)
		}
	}
	return out
}
