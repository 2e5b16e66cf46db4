package tray

import (
	"context"
	"errors"
	"log/slog"
	"os/exec"
	"runtime"
	"time"

	"github.com/pkg/browser"

	"github.com/ghostwire/ghostwire/app/addcluster"
	"github.com/ghostwire/ghostwire/app/localapi"
	"github.com/ghostwire/ghostwire/app/tray/autostart"
	"github.com/ghostwire/ghostwire/app/tray/desktop"
	"github.com/ghostwire/ghostwire/app/tray/menu"
	"github.com/ghostwire/ghostwire/app/tray/notify"
)

// ui shows a model and reports clicks by item ID (the systray glue).
type ui interface {
	Render(menu.Model)
	Clicks() <-chan string
}

// daemon is the part of localapi.Client the tray uses.
type daemon interface {
	Watch(ctx context.Context, fn func(localapi.Status) error) error
	Up(ctx context.Context, req localapi.UpRequest) (localapi.Status, error)
	Down(ctx context.Context, req localapi.ProfileRequest) (localapi.Status, error)
	Login(ctx context.Context, req localapi.ProfileRequest) (localapi.Status, error)
	Extend(ctx context.Context, req localapi.ProfileRequest) (localapi.Status, error)
}

// retryEvery is how often the tray looks for a daemon that is not running.
const retryEvery = 2 * time.Second

// controller owns the tray's state; only loop touches it after start.
type controller struct {
	opts     Options
	log      *slog.Logger
	d        daemon
	ui       ui
	desk     desktop.Desktop
	sender   notify.Sender
	decide   notify.Decider
	prompts  menu.Prompts
	openURL  func(string) error
	openFile func(string) error
	// serverConfig reads a server's /v1/config before a cluster is added.
	serverConfig addcluster.ConfigFunc

	in     menu.Input
	model  menu.Model
	events chan event
}

type event struct {
	status    *localapi.Status
	daemonErr error // the watch ended (daemon stopped or never started)
	autostart *autostartState
}

type autostartState struct {
	on  bool
	err error
}

func newController(opts Options, log *slog.Logger, d daemon, u ui) *controller {
	c := &controller{
		opts: opts, log: log, d: d, ui: u,
		desk:         newDesktop(),
		sender:       newSender(),
		decide:       notify.Decider{HowToStart: howToStart()},
		openURL:      browser.OpenURL,
		openFile:     browser.OpenFile,
		serverConfig: addcluster.FetchConfig,
		events:       make(chan event, 16),
	}
	c.in = menu.Input{Version: opts.Version, GOOS: runtime.GOOS, DialogAvailable: c.desk.CanAsk(), Now: time.Now()}
	c.applyAutostart(readAutostart())
	return c
}

// start renders the first menu, before the daemon has said anything: the
// status comes only from Watch, whose first message follows at once.
func (c *controller) start() {
	c.in.DaemonPending = true
	c.in.Now = time.Now()
	c.render()
}

// loop runs until ctx ends or Quit is chosen.
func (c *controller) loop(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer c.sender.Close()
	go c.watch(ctx)
	tick := time.NewTicker(time.Second) // countdowns and the notifier's grace period
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case e := <-c.events:
			switch {
			case e.status != nil:
				c.applyDaemon(*e.status, nil)
				c.openPrompts(ctx)
			case e.autostart != nil:
				c.applyAutostart(*e.autostart)
			default:
				c.applyDaemon(localapi.Status{}, e.daemonErr)
			}
		case <-tick.C:
		case id := <-c.ui.Clicks():
			it, ok := c.model.Item(id)
			if !ok || !it.Enabled || !it.Visible {
				continue
			}
			if it.Action.Kind == menu.Quit {
				c.log.Info("quit chosen")
				return nil
			}
			c.do(ctx, it)
		}
		c.in.Now = time.Now()
		if !c.in.DaemonPending { // the first answer is the notifier's baseline
			for _, n := range c.decide.Observe(c.in.Now, c.in.Status, c.in.DaemonReachable) {
				c.notify(ctx, n)
			}
		}
		c.render()
	}
}

// watch follows the daemon's status stream, and when there is no daemon,
// looks for it again every retryEvery until ctx ends.
func (c *controller) watch(ctx context.Context) {
	for ctx.Err() == nil {
		err := c.d.Watch(ctx, func(s localapi.Status) error {
			select {
			case c.events <- event{status: &s}:
			case <-ctx.Done():
			}
			return nil
		})
		if ctx.Err() != nil {
			return
		}
		c.log.Debug("daemon watch ended", "err", err)
		select {
		case c.events <- event{daemonErr: err}:
		case <-ctx.Done():
			return
		}
		select {
		case <-time.After(retryEvery):
		case <-ctx.Done():
		}
	}
}

func (c *controller) applyDaemon(st localapi.Status, err error) {
	was := c.in.DaemonReachable
	c.in.DaemonPending = false
	if err != nil {
		c.in.DaemonReachable, c.in.DaemonErrCode, c.in.Status = false, localapi.CodeOf(err), localapi.Status{}
		if was {
			c.log.Warn("daemon not reachable; retrying", "err", err)
		}
		return
	}
	if !was {
		c.log.Info("daemon reachable", "daemon_version", st.DaemonVersion)
	}
	c.in.DaemonReachable, c.in.DaemonErrCode, c.in.Status = true, "", st
}

func (c *controller) applyAutostart(a autostartState) {
	c.in.Autostart, c.in.AutostartErr = a.on, ""
	if a.err != nil {
		c.in.AutostartErr = a.err.Error()
	}
}

func readAutostart() autostartState {
	on, err := autostart.Enabled()
	return autostartState{on: on, err: err}
}

func (c *controller) render() {
	c.model = menu.Build(c.in)
	c.ui.Render(c.model)
}

// openPrompts opens the browser once per new sign-in prompt.
func (c *controller) openPrompts(ctx context.Context) {
	for _, u := range c.prompts.ToOpen(c.in.Status) {
		c.log.Info("opening the sign-in page", "url", u)
		if err := c.openURL(u); err != nil {
			c.log.Warn("could not open the browser", "err", err)
			c.notify(ctx, notify.Notification{Key: "browser", Title: "Open the sign-in page",
				Body: "Could not open a browser: open the Ghostwire menu and choose Sign in."})
		}
	}
}

func (c *controller) notify(ctx context.Context, n notify.Notification) {
	c.log.Info("notification", "key", n.Key, "title", n.Title)
	go func() {
		sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		if err := c.sender.Send(sctx, n); err != nil {
			c.log.Debug("notification not shown", "key", n.Key, "err", err)
		}
	}()
}

// callTimeout bounds a local API call from a click: the daemon answers at once
// and reports progress through Watch.
const callTimeout = 30 * time.Second

// dialogTimeout bounds a dialog left open (it is closed after that).
const dialogTimeout = 10 * time.Minute

// do carries out a click. Calls run in their own goroutine so the menu stays live.
func (c *controller) do(ctx context.Context, it menu.Item) {
	a := it.Action
	c.log.Info("menu click", "item", it.ID, "profile", a.Profile)
	runFor := func(timeout time.Duration, what string, f func(context.Context) error) {
		go func() {
			cctx, cancel := context.WithTimeout(ctx, timeout)
			defer cancel()
			if err := f(cctx); err != nil && ctx.Err() == nil {
				c.log.Warn(what+" failed", "err", err)
				c.notify(ctx, notify.Notification{Key: "action:" + it.ID, Title: what + " failed", Body: err.Error()})
			}
		}()
	}
	run := func(what string, f func(context.Context) error) { runFor(callTimeout, what, f) }
	pr := localapi.ProfileRequest{Profile: a.Profile, All: a.All}
	switch a.Kind {
	case menu.Connect:
		run("Connect", func(ctx context.Context) error {
			_, err := c.d.Up(ctx, localapi.UpRequest{Profile: a.Profile})
			return err
		})
	case menu.Disconnect:
		run("Disconnect", func(ctx context.Context) error { _, err := c.d.Down(ctx, pr); return err })
	case menu.ToggleProfile:
		if it.Checked {
			run("Disconnect", func(ctx context.Context) error { _, err := c.d.Down(ctx, pr); return err })
		} else {
			run("Connect", func(ctx context.Context) error {
				_, err := c.d.Up(ctx, localapi.UpRequest{Profile: a.Profile})
				return err
			})
		}
	case menu.Login:
		run("Sign in", func(ctx context.Context) error { _, err := c.d.Login(ctx, pr); return err })
	case menu.Extend:
		run("Extend", func(ctx context.Context) error { _, err := c.d.Extend(ctx, pr); return err })
	case menu.SignIn:
		run("Sign in", func(ctx context.Context) error {
			if a.Code != "" {
				if err := c.desk.Copy(ctx, a.Code); err != nil {
					c.log.Warn("sign-in code not copied", "err", err)
					c.notify(ctx, notify.Notification{Key: "code", Title: "Enter the code " + a.Code,
						Body: "It could not be copied to the clipboard: " + err.Error()})
				}
			}
			if a.URL == "" {
				return nil
			}
			return c.openURL(a.URL)
		})
	case menu.CopyAddress:
		run("Copy address", func(ctx context.Context) error { return c.desk.Copy(ctx, a.Text) })
	case menu.AddCluster:
		st := c.in.Status // the loop owns c.in; the dialog runs in its own goroutine
		runFor(dialogTimeout, "Add cluster", func(ctx context.Context) error { return c.addCluster(ctx, st) })
	case menu.ToggleAutostart:
		want := !it.Checked
		go func() {
			var err error
			if want {
				err = autostart.Enable()
			} else {
				err = autostart.Disable()
			}
			if err != nil {
				c.log.Warn("start at login not changed", "err", err)
				c.notify(ctx, notify.Notification{Key: "autostart", Title: "Start at login not changed", Body: err.Error()})
			}
			st := readAutostart() // the checkbox shows what is registered, whatever happened
			select {
			case c.events <- event{autostart: &st}:
			case <-ctx.Done():
			}
		}()
	case menu.OpenLog:
		run("Open log", func(context.Context) error {
			p := LogFile(c.opts)
			if p == "" {
				return errors.New("the tray writes no log file (started with --log-file=-)")
			}
			return c.openFile(p)
		})
	case menu.About:
		runFor(dialogTimeout, "About", func(ctx context.Context) error {
			if err := c.desk.ShowInfo(ctx, "About Ghostwire", a.Text); err != nil {
				c.notify(ctx, notify.Notification{Key: "about", Title: "About Ghostwire", Body: a.Text})
			}
			return nil
		})
	}
}

// addCluster asks for the server's URL, reads the server's /v1/config (a typo
// adds nothing), and connects to it as a new profile named after its host, or
// to the profile that already has that server.
func (c *controller) addCluster(ctx context.Context, st localapi.Status) error {
	raw, err := c.desk.AskServerURL(ctx)
	if errors.Is(err, desktop.ErrCancelled) {
		return nil
	}
	if err != nil {
		return err
	}
	server, err := menu.ParseServerURL(raw)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	plan, err := addcluster.Prepare(ctx, st, server, addcluster.Typed, c.serverConfig, nil)
	if err != nil {
		return err
	}
	_, err = c.d.Up(ctx, plan.Up)
	return err
}

func lookPath(name string) (string, error) { return exec.LookPath(name) }
