// Package notify decides which desktop notifications the tray shows (a pure
// model fed with the daemon's statuses and the clock) and sends them with each
// OS's own mechanism.
package notify

import (
	"fmt"
	"time"

	"github.com/ghostwire/ghostwire/app/localapi"
	"github.com/ghostwire/ghostwire/app/tray/menu"
)

// Notification is one message for the person.
type Notification struct {
	// Key names the event ("connected:prod"), for logs and tests.
	Key   string
	Title string
	Body  string
	// Urgent asks the desktop to keep it until seen (sign-in needed).
	Urgent bool
}

// Defaults for Decider.
const (
	DefaultGrace      = 5 * time.Second
	DefaultExpiryWarn = 10 * time.Minute
)

// Decider turns a stream of statuses into notifications: connected, lost and
// recovered, sign-in needed, session about to end, service stopped. A blip
// shorter than Grace is silent both ways (the icon shows it anyway); a longer
// outage gets "lost" once Grace has passed and "restored" when it ends. The
// first status is the baseline: starting the tray says nothing. Call Observe
// on every status and also every second or so, so Grace can elapse.
type Decider struct {
	Grace      time.Duration
	ExpiryWarn time.Duration
	// HowToStart ends the "service stopped" message.
	HowToStart string

	started   bool
	reachable bool
	profiles  map[string]*track
}

type track struct {
	state        localapi.State
	lostAt       time.Time
	lostNotified bool
	promptSeq    uint64
	hasPrompt    bool
	warnedFor    time.Time
}

// Observe returns what to show now, given the daemon's status (ignored when
// reachable is false).
func (d *Decider) Observe(now time.Time, st localapi.Status, reachable bool) []Notification {
	if d.Grace == 0 {
		d.Grace = DefaultGrace
	}
	if d.ExpiryWarn == 0 {
		d.ExpiryWarn = DefaultExpiryWarn
	}
	var out []Notification
	first := !d.started
	d.started = true
	if !reachable {
		if d.reachable && !first {
			out = append(out, Notification{Key: "daemon-stopped", Title: "Ghostwire service stopped",
				Body: "The tunnel is down. " + d.HowToStart})
		}
		d.reachable = false
		d.profiles = nil // nothing is known while the daemon is away
		return out
	}
	d.reachable = true
	if d.profiles == nil {
		d.profiles = make(map[string]*track)
	}
	seen := make(map[string]bool, len(st.Profiles))
	for _, p := range st.Profiles {
		seen[p.Name] = true
		tr, known := d.profiles[p.Name]
		if !known {
			tr = &track{state: localapi.StateDisconnected}
			d.profiles[p.Name] = tr
			if first {
				// The baseline: what is already there when the tray starts is
				// shown by the menu and the icon, not announced.
				tr.state = p.State
				if p.State == localapi.StateReconnecting {
					tr.lostAt = now
				}
				if p.SignIn != nil {
					tr.promptSeq, tr.hasPrompt = p.SignIn.Seq, true
				}
				if end, ok := menu.SessionEnd(p); ok && end.Sub(now) <= d.ExpiryWarn {
					tr.warnedFor = end
				}
				continue
			}
			// A profile that appears while we watch is news like any change.
		}
		out = append(out, d.step(now, tr, p)...)
	}
	for name := range d.profiles {
		if !seen[name] {
			delete(d.profiles, name)
		}
	}
	return out
}

func (d *Decider) step(now time.Time, tr *track, p localapi.Profile) []Notification {
	var out []Notification
	note := func(kind, title, body string, urgent bool) {
		out = append(out, Notification{Key: kind + ":" + p.Name, Title: title, Body: body, Urgent: urgent})
	}
	prev := tr.state
	tr.state = p.State
	switch p.State {
	case localapi.StateConnected:
		switch {
		case prev == localapi.StateReconnecting && tr.lostNotified:
			note("restored", "Connection to "+p.Name+" restored",
				fmt.Sprintf("Back after %s.", round(now.Sub(tr.lostAt))), false)
		case prev != localapi.StateConnected && prev != localapi.StateReconnecting:
			note("connected", "Connected to "+p.Name, connectedBody(p), false)
		}
		tr.lostNotified = false
		if end, ok := menu.SessionEnd(p); ok && end.After(now) && end.Sub(now) <= d.ExpiryWarn && !end.Equal(tr.warnedFor) {
			tr.warnedFor = end
			note("session-ending", "Session for "+p.Name+" ends in "+menu.Minutes(end.Sub(now)),
				"Choose Extend in the Ghostwire menu to stay connected.", false)
		}
	case localapi.StateReconnecting:
		if prev != localapi.StateReconnecting {
			tr.lostAt, tr.lostNotified = now, false
		}
		if !tr.lostNotified && now.Sub(tr.lostAt) >= d.Grace {
			tr.lostNotified = true
			body := "Reconnecting by itself."
			if p.Reason != "" {
				body = menu.Shorten(p.Reason, 160) + ". " + body
			}
			note("lost", "Connection to "+p.Name+" lost", body, false)
		}
	case localapi.StateNeedsSignIn:
		if prev != localapi.StateNeedsSignIn {
			body := "Open the Ghostwire menu and choose Sign in again."
			if p.Reason != "" {
				body = menu.Shorten(p.Reason, 160) + ". " + body
			}
			note("sign-in-needed", "Sign-in needed for "+p.Name, body, true)
		}
	case localapi.StateError:
		if prev != localapi.StateError {
			note("error", "Could not connect to "+p.Name, menu.Shorten(p.Reason, 200), false)
		}
	}
	if p.SignIn != nil && p.State == localapi.StateSigningIn && (!tr.hasPrompt || p.SignIn.Seq != tr.promptSeq) {
		body := "Your browser opens the sign-in page."
		if p.SignIn.UserCode != "" {
			body = "Enter the code " + p.SignIn.UserCode + " on the page your browser opened (also in the Ghostwire menu)."
		}
		note("sign-in", "Sign in to "+p.Name, body, true)
	}
	if p.SignIn != nil {
		tr.promptSeq, tr.hasPrompt = p.SignIn.Seq, true
	}
	return out
}

func connectedBody(p localapi.Profile) string {
	b := "The cluster's services are reachable by name."
	if p.Address != "" {
		b += " Your address: " + menu.HostAddress(p.Address) + "."
	}
	return b
}

func round(d time.Duration) time.Duration {
	if d >= time.Minute {
		return d.Round(time.Second)
	}
	return d.Round(100 * time.Millisecond)
}
