package tray

import (
	"bytes"
	"context"
	"fmt"
	"image"
	_ "image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"

	"github.com/ghostwire/ghostwire/app/tray/internal/scripted"
	"github.com/ghostwire/ghostwire/assets"
)

// inBusEnv marks the child test process that runs inside dbus-run-session.
const inBusEnv = "GWY_TRAY_TEST_IN_BUS"

// TestDesktopBus runs the real tray (fyne.io/systray on a real D-Bus session
// bus) against a real local API server, and drives it the way a desktop does:
// it reads the exported StatusNotifierItem and its com.canonical.dbusmenu menu
// over D-Bus, clicks items with Event(id, "clicked"), and checks that the daemon
// is called and the menu, tooltip and icon follow. The daemon behind the local
// API is a scripted Backend that changes state on Up/Down like the engine does;
// the real daemon is exercised end-to-end in e2e/. Two stand-ins, for what has
// no headless form: a recording org.freedesktop.Notifications service (the
// desktop's notification daemon) and an xdg-open that records the URL (the
// browser).
func TestDesktopBus(t *testing.T) {
	if testing.Short() {
		t.Skip("desktop-bus test: runs in the system pass of `make test` (needs dbus-run-session)")
	}
	if os.Getenv(inBusEnv) == "" {
		runInOwnBus(t)
		return
	}
	busTest(t)
}

// runInOwnBus re-runs this test in a private session bus: systray uses the
// process's session bus and can start only once per process.
func runInOwnBus(t *testing.T) {
	drs, err := exec.LookPath("dbus-run-session")
	if err != nil {
		t.Fatalf("dbus-run-session is missing: run `make deps` (Debian package dbus-daemon or dbus): %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, drs, "--", os.Args[0], "-test.run=^TestDesktopBus$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), inBusEnv+"=1")
	out, err := cmd.CombinedOutput()
	t.Logf("inside dbus-run-session:\n%s", out)
	if err != nil {
		t.Fatalf("the desktop-bus test failed inside dbus-run-session: %v", err)
	}
	if !bytes.Contains(out, []byte("--- PASS: TestDesktopBus")) {
		t.Fatal("the test did not run inside dbus-run-session")
	}
}

func busTest(t *testing.T) {
	if os.Getenv("DBUS_SESSION_BUS_ADDRESS") == "" {
		t.Fatal("no session bus: this must run under dbus-run-session")
	}
	dir := t.TempDir()
	t.Setenv("HOME", dir)
	t.Setenv("XDG_CONFIG_HOME", filepath.Join(dir, "config"))
	t.Setenv("XDG_CACHE_HOME", filepath.Join(dir, "cache"))
	t.Setenv("DISPLAY", "")
	t.Setenv("WAYLAND_DISPLAY", "")
	opened := filepath.Join(dir, "opened-urls")
	bin := filepath.Join(dir, "bin")
	if err := os.MkdirAll(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(bin, "xdg-open"), []byte("#!/bin/sh\necho \"$1\" >> "+opened+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin+":"+os.Getenv("PATH"))

	bus, err := dbus.ConnectSessionBus()
	if err != nil {
		t.Fatal(err)
	}
	defer bus.Close()
	notes := startNotificationService(t)

	// The daemon: the real local API server on a unix socket, scripted backend.
	sock := filepath.Join(dir, "gw.sock")
	be := scripted.New()
	stopDaemon := serveDaemon(t, sock, be)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	trayDone := make(chan error, 1)
	go func() {
		trayDone <- Run(ctx, Options{SocketPath: sock, Version: "1.2.3-test", LogFile: filepath.Join(dir, "tray.log")})
	}()

	// The tray's StatusNotifierItem appears on the bus, with its menu.
	sni := fmt.Sprintf("org.kde.StatusNotifierItem-%d-1", os.Getpid())
	eventually(t, "the StatusNotifierItem on the bus", func() (bool, string) {
		var names []string
		err := bus.BusObject().Call("org.freedesktop.DBus.ListNames", 0).Store(&names)
		return err == nil && contains(names, sni), fmt.Sprint(names, err)
	})
	// A second tray in the same session says so instead of adding an icon.
	if err := Run(ctx, Options{SocketPath: sock, LogFile: "-"}); err == nil || !strings.Contains(err.Error(), "already running") {
		t.Errorf("second tray: %v, want an 'already running' error", err)
	}
	item := bus.Object(sni, "/StatusNotifierItem")
	menuPathV, err := item.GetProperty("org.kde.StatusNotifierItem.Menu")
	if err != nil {
		t.Fatal(err)
	}
	m := &busMenu{t: t, obj: bus.Object(sni, menuPathV.Value().(dbus.ObjectPath)), item: item}

	// Disconnected: the status, Connect, the profile unchecked, the app items.
	m.waitFor("Disconnected", "disconnected")
	m.expect("Connect to prod", true, true, -1)
	m.expect("prod — off", true, true, 0)
	m.expect("Disconnect", false, true, -1)
	m.expect("Start at login", true, true, 0)
	m.expect("About Ghostwire 1.2.3-test", true, true, -1)

	// Click Connect: the daemon is asked to go up, the menu follows it.
	m.click("Connect to prod")
	eventually(t, "Up called", func() (bool, string) { c := be.Calls(); return contains(c, "up:prod"), fmt.Sprint(c) })
	m.waitFor("Connected to prod", "connected")
	m.expect("alice@example.com · 100.64.0.7", true, false, -1)
	m.expect("Disconnect", true, true, -1)
	m.expect("Copy my address (100.64.0.7)", true, true, -1)
	m.expect("prod — connected", true, true, 1)
	m.expect("Connect to prod", false, true, -1)
	notes.waitFor(t, "Connected to prod")

	// Disconnect from the profile's own entry.
	m.click("prod — connected")
	eventually(t, "Down called", func() (bool, string) { c := be.Calls(); return contains(c, "down:prod"), fmt.Sprint(c) })
	m.waitFor("Disconnected", "disconnected")

	// Sign-in: the code is in the menu, the browser opens once for the prompt
	// although the daemon sends several statuses with it.
	be.AskSignIn(true)
	m.click("Connect to prod")
	m.waitFor("Signing in to prod…", "connecting")
	m.expect("Sign in: code ABCD-EFGH", true, true, -1)
	m.expect("Cancel", true, true, -1)
	notes.waitFor(t, "Sign in to prod")
	be.FinishSignIn()
	m.waitFor("Connected to prod", "connected")
	if b, _ := os.ReadFile(opened); string(b) != "https://login.example.test/device\n" {
		t.Errorf("browser opened %q, want the verification URL exactly once", b)
	}

	// Close to the session's end: a notification, and Extend in the menu renews it.
	be.SetSessionEnd("prod", time.Now().Add(7*time.Minute+30*time.Second))
	notes.waitFor(t, "Session for prod ends in 8 min")
	eventually(t, "the Extend item", func() (bool, string) {
		it, ok := m.find("Session ends in 8 min — Extend")
		return ok && it.visible && it.enabled, fmt.Sprintf("%+v", m.items())
	})
	m.click("Session ends in 8 min — Extend")
	eventually(t, "Extend called", func() (bool, string) { c := be.Calls(); return contains(c, "extend:prod"), fmt.Sprint(c) })
	eventually(t, "the Extend item gone", func() (bool, string) {
		it, ok := m.find("Session ends in 8 min — Extend")
		return !ok || !it.visible, fmt.Sprintf("%+v", it)
	})

	// Start at login really writes the XDG autostart entry.
	m.click("Start at login")
	m.waitForItem("Start at login", 1)
	if _, err := os.Stat(filepath.Join(dir, "config", "autostart", "ghostwire.desktop")); err != nil {
		t.Errorf("autostart entry not written: %v", err)
	}
	m.click("Start at login")
	m.waitForItem("Start at login", 0)

	// The daemon stops: the tray says so and how to start it; it comes back by itself.
	stopDaemon()
	m.waitFor("Ghostwire service is not running", "no-daemon")
	m.expect("Start it: sudo systemctl start ghostwire; retrying by itself", true, false, -1)
	notes.waitFor(t, "Ghostwire service stopped")
	stopDaemon = serveDaemon(t, sock, be)
	defer func() { stopDaemon() }()
	m.waitFor("Connected to prod", "connected")

	// Quit ends Run; the daemon is left as it is.
	m.click("Quit")
	select {
	case err := <-trayDone:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Quit did not end Run")
	}
	if c := be.Calls(); contains(c, "down:prod") && strings.Count(strings.Join(c, " "), "down:prod") > 1 {
		t.Errorf("Quit must not disconnect: %v", c)
	}
}

// busMenu reads and clicks the tray's menu over com.canonical.dbusmenu.
type busMenu struct {
	t    *testing.T
	obj  dbus.BusObject
	item dbus.BusObject
}

type busItem struct {
	id      int32
	label   string
	enabled bool
	visible bool
	toggle  int32 // -1: not a checkbox
}

func (m *busMenu) items() []busItem {
	m.t.Helper()
	var rev uint32
	var root struct {
		ID       int32
		Props    map[string]dbus.Variant
		Children []dbus.Variant
	}
	if err := m.obj.Call("com.canonical.dbusmenu.GetLayout", 0, int32(0), int32(-1), []string{}).Store(&rev, &root); err != nil {
		m.t.Fatalf("GetLayout: %v", err)
	}
	var out []busItem
	for _, c := range root.Children {
		f := c.Value().([]interface{})
		props := f[1].(map[string]dbus.Variant)
		it := busItem{id: f[0].(int32), enabled: true, visible: true, toggle: -1}
		if v, ok := props["type"]; ok && v.Value() == "separator" {
			continue
		}
		if v, ok := props["label"]; ok {
			it.label = v.Value().(string)
		}
		if v, ok := props["enabled"]; ok {
			it.enabled = v.Value().(bool)
		}
		if v, ok := props["visible"]; ok {
			it.visible = v.Value().(bool)
		}
		if v, ok := props["toggle-type"]; ok && v.Value() == "checkmark" {
			it.toggle = props["toggle-state"].Value().(int32)
		}
		out = append(out, it)
	}
	return out
}

func (m *busMenu) find(label string) (busItem, bool) {
	for _, it := range m.items() {
		if it.label == label {
			return it, true
		}
	}
	return busItem{}, false
}

// waitFor waits until the status line reads status and the icon is icon's pixmap.
func (m *busMenu) waitFor(status, icon string) {
	m.t.Helper()
	want := pixmap(m.t, icon)
	eventually(m.t, "status "+status, func() (bool, string) {
		its := m.items()
		if len(its) == 0 || its[0].label != status {
			return false, fmt.Sprintf("%+v", its)
		}
		v, err := m.item.GetProperty("org.kde.StatusNotifierItem.IconPixmap")
		if err != nil {
			return false, err.Error()
		}
		px := v.Value().([][]interface{})
		if len(px) != 1 || !bytes.Equal(px[0][2].([]byte), want) {
			return false, "icon is not " + icon
		}
		tip, err := m.item.GetProperty("org.kde.StatusNotifierItem.ToolTip")
		if err != nil || !strings.HasPrefix(tip.Value().([]interface{})[2].(string), status) {
			return false, fmt.Sprintf("tooltip %v %v", tip, err)
		}
		return true, ""
	})
}

func (m *busMenu) waitForItem(label string, toggle int32) {
	m.t.Helper()
	eventually(m.t, label+" toggled", func() (bool, string) {
		it, ok := m.find(label)
		return ok && it.toggle == toggle, fmt.Sprintf("%+v", it)
	})
}

// expect checks an item's visibility, enabled state and toggle (-1: none).
func (m *busMenu) expect(label string, visible, enabled bool, toggle int32) {
	m.t.Helper()
	it, ok := m.find(label)
	if !visible {
		if ok && it.visible {
			m.t.Errorf("%q is shown; want it hidden", label)
		}
		return
	}
	if !ok || !it.visible || it.enabled != enabled || it.toggle != toggle {
		m.t.Errorf("%q: got %+v (found %v), want visible, enabled=%v, toggle=%d\nmenu: %+v", label, it, ok, enabled, toggle, m.items())
	}
}

func (m *busMenu) click(label string) {
	m.t.Helper()
	it, ok := m.find(label)
	if !ok || !it.visible || !it.enabled {
		m.t.Fatalf("cannot click %q: %+v\nmenu: %+v", label, it, m.items())
	}
	if err := m.obj.Call("com.canonical.dbusmenu.Event", 0, it.id, "clicked", dbus.MakeVariant(""), uint32(time.Now().Unix())).Err; err != nil {
		m.t.Fatalf("click %q: %v", label, err)
	}
}

// pixmap is the StatusNotifierItem pixmap (ARGB) systray makes of an icon.
func pixmap(t *testing.T, icon string) []byte {
	b, err := assets.PNG(icon)
	if err != nil {
		t.Fatal(err)
	}
	img, _, err := image.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	var out []byte
	for y := 0; y < img.Bounds().Dy(); y++ {
		for x := 0; x < img.Bounds().Dx(); x++ {
			r, g, b, a := img.At(x, y).RGBA()
			out = append(out, byte(a), byte(r), byte(g), byte(b))
		}
	}
	return out
}

// notificationService records Notify calls, standing in for the desktop's
// notification daemon.
type notificationService struct {
	mu     sync.Mutex
	titles []string
}

func (n *notificationService) Notify(app string, replaces uint32, icon, summary, body string, actions []string,
	hints map[string]dbus.Variant, timeout int32) (uint32, *dbus.Error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.titles = append(n.titles, summary)
	return uint32(len(n.titles)), nil
}

func (n *notificationService) waitFor(t *testing.T, title string) {
	t.Helper()
	eventually(t, "notification "+title, func() (bool, string) {
		n.mu.Lock()
		defer n.mu.Unlock()
		return contains(n.titles, title), fmt.Sprint(n.titles)
	})
}

func startNotificationService(t *testing.T) *notificationService {
	conn, err := dbus.ConnectSessionBus()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	n := &notificationService{}
	if err := conn.Export(n, "/org/freedesktop/Notifications", "org.freedesktop.Notifications"); err != nil {
		t.Fatal(err)
	}
	if r, err := conn.RequestName("org.freedesktop.Notifications", dbus.NameFlagDoNotQueue); err != nil || r != dbus.RequestNameReplyPrimaryOwner {
		t.Fatalf("cannot own org.freedesktop.Notifications: %v %v", r, err)
	}
	return n
}
