//go:build !(darwin && !cgo)

package tray

import (
	"runtime"
	"sync"
	"time"

	"fyne.io/systray"

	"github.com/ghostwire/ghostwire/app/tray/menu"
)

// trayUI renders menu models into fyne.io/systray. Items are created once per
// menu shape (the list of item IDs) and updated in place afterwards; a new
// shape (a profile added or removed) rebuilds the menu.
type trayUI struct {
	mu      sync.Mutex
	shape   []string
	items   map[string]*systray.MenuItem
	shown   map[string]menu.Item
	clicks  chan string
	icon    menu.Icon
	tooltip string
	// settleUntil: until then the icon, tooltip and title are set again on
	// every render. fyne.io/systray v1.12.2 loses values set while it is still
	// exporting its D-Bus properties (it reads them for the export, then takes
	// later calls for no-ops until the export is stored); the controller
	// renders every second, so they stick once systray is up.
	settleUntil time.Time
}

// settleTime is how long after start the tray re-applies icon and tooltip.
const settleTime = 10 * time.Second

func newTrayUI() *trayUI {
	return &trayUI{clicks: make(chan string, 8), settleUntil: time.Now().Add(settleTime)}
}

func (u *trayUI) Clicks() <-chan string { return u.clicks }

func (u *trayUI) Render(m menu.Model) {
	u.mu.Lock()
	defer u.mu.Unlock()
	settling := time.Now().Before(u.settleUntil)
	if settling && runtime.GOOS == "linux" {
		systray.SetTitle("Ghostwire") // the StatusNotifierItem's name; on macOS it would be text in the menu bar
	}
	if settling || m.Icon != u.icon {
		setIcon(m.Icon)
		u.icon = m.Icon
	}
	if settling || m.Tooltip != u.tooltip {
		systray.SetTooltip(m.Tooltip)
		u.tooltip = m.Tooltip
	}
	shape := shapeOf(m)
	if !equal(shape, u.shape) {
		u.rebuild(m)
		u.shape = shape
		return
	}
	for _, it := range m.Items {
		if it.Separator {
			continue
		}
		mi, old := u.items[it.ID], u.shown[it.ID]
		if it.Title != old.Title {
			mi.SetTitle(it.Title)
		}
		if it.Tooltip != old.Tooltip {
			mi.SetTooltip(it.Tooltip)
		}
		if it.Enabled != old.Enabled {
			setEnabled(mi, it.Enabled)
		}
		if it.Checked != old.Checked {
			setChecked(mi, it.Checked)
		}
		if it.Visible != old.Visible {
			setVisible(mi, it.Visible)
		}
		u.shown[it.ID] = it
	}
}

func (u *trayUI) rebuild(m menu.Model) {
	if u.items != nil {
		systray.ResetMenu() // closes the old items' ClickedCh: their forwarders end
	}
	u.items = make(map[string]*systray.MenuItem, len(m.Items))
	u.shown = make(map[string]menu.Item, len(m.Items))
	for _, it := range m.Items {
		if it.Separator {
			systray.AddSeparator()
			continue
		}
		var mi *systray.MenuItem
		if it.Checkable {
			mi = systray.AddMenuItemCheckbox(it.Title, it.Tooltip, it.Checked)
		} else {
			mi = systray.AddMenuItem(it.Title, it.Tooltip)
		}
		if !it.Enabled {
			mi.Disable()
		}
		if !it.Visible {
			mi.Hide()
		}
		u.items[it.ID], u.shown[it.ID] = mi, it
		go forward(mi.ClickedCh, it.ID, u.clicks)
	}
}

// forward turns one item's clicks into IDs until the item is removed.
func forward(ch <-chan struct{}, id string, to chan<- string) {
	for range ch {
		to <- id
	}
}

func setEnabled(mi *systray.MenuItem, on bool) {
	if on {
		mi.Enable()
	} else {
		mi.Disable()
	}
}

func setChecked(mi *systray.MenuItem, on bool) {
	if on {
		mi.Check()
	} else {
		mi.Uncheck()
	}
}

func setVisible(mi *systray.MenuItem, on bool) {
	if on {
		mi.Show()
	} else {
		mi.Hide()
	}
}

// shapeOf is what cannot change in place: the items, their kind and order.
func shapeOf(m menu.Model) []string {
	s := make([]string, len(m.Items))
	for i, it := range m.Items {
		switch {
		case it.Separator:
			s[i] = "-" + it.ID
		case it.Checkable:
			s[i] = "x" + it.ID
		default:
			s[i] = " " + it.ID
		}
	}
	return s
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
