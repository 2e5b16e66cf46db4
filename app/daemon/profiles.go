package daemon

import (
	"context"
	"errors"
	"time"

	"github.com/ghostwire/ghostwire/app/engine"
	"github.com/ghostwire/ghostwire/app/localapi"
	"github.com/ghostwire/ghostwire/app/serverclient"
)

// serverCheckTimeout bounds the question to a new server before a profile
// changes (the server client's own timeout is 20 s).
const serverCheckTimeout = 20 * time.Second

// Up creates or updates the profile and starts connecting. A new server
// (or a new private CA) is asked for its /v1/config first, and nothing
// changes until it answers: a typo never costs a working tunnel, its
// sign-in or the remembered server.
func (d *Daemon) Up(ctx context.Context, req localapi.UpRequest) error {
	d.changeMu.Lock()
	defer d.changeMu.Unlock()

	d.mu.Lock()
	name, err := d.resolveName(req.Profile)
	if err != nil {
		d.mu.Unlock()
		return err
	}
	p := d.profiles[name]
	next, err := d.wantedLocked(name, p, req)
	d.mu.Unlock()
	if err != nil {
		return err
	}
	if p == nil && next == nil {
		return localapi.Errorf(localapi.CodeNotFound, "there is no profile %q yet: run `ghostwire up https://vpn.example.com` (with --profile %s)", name, name)
	}
	if next != nil {
		np, err := d.newProfile(*next)
		if err != nil {
			return err
		}
		if err := d.checkServer(ctx, np); err != nil {
			np.eng.Down() // nothing runs; releases nothing but is tidy
			return err
		}
		d.mu.Lock()
		old, err := d.replaceProfileLocked(np, false)
		d.mu.Unlock()
		if old != nil {
			old.eng.Down() // the server or CA changed: the old connection goes
		}
		if err != nil {
			return err
		}
		p = np
	}
	mode := engine.SignInAuto
	if req.DeviceCode {
		mode = engine.SignInDeviceCode
	}
	d.log.Info("up", "profile", name, "server", p.set.Server)
	p.eng.Up(mode)
	d.publish()
	return nil
}

// wantedLocked returns the settings req asks for when they differ from
// p's (nil when nothing changes), checked.
func (d *Daemon) wantedLocked(name string, p *profile, req localapi.UpRequest) (*Settings, error) {
	if req.Server == "" && req.CAPEM == "" {
		return nil, nil
	}
	var server, caPEM string
	if p != nil {
		server, caPEM = p.set.Server, p.set.CAPEM
	}
	if req.Server != "" {
		u, err := serverclient.ParseServerURL(req.Server)
		if err != nil {
			return nil, localapi.Errorf(localapi.CodeBadRequest, "%v", err)
		}
		server = u.String()
	}
	if req.CAPEM != "" {
		if err := localapi.CheckCAPEM([]byte(req.CAPEM)); err != nil {
			return nil, localapi.Errorf(localapi.CodeBadRequest, "the private CA cannot be used: %v", err)
		}
		caPEM = req.CAPEM
	}
	if server == "" {
		return nil, localapi.Errorf(localapi.CodeBadRequest, "profile %q has no server yet: run `ghostwire up https://vpn.example.com`", name)
	}
	if p != nil && server == p.set.Server && caPEM == p.set.CAPEM {
		return nil, nil
	}
	s := d.movedLocked(name, p, server, caPEM)
	return &s, nil
}

// movedLocked returns p's settings (a new profile's when p is nil) with
// server and caPEM: the last registration belongs to the old server and goes
// when the server changes; a new profile gets a free interface.
func (d *Daemon) movedLocked(name string, p *profile, server, caPEM string) Settings {
	s := Settings{Name: name}
	if p != nil {
		s = p.set
	}
	if s.Server != server {
		s.LastPeer = ""
	}
	s.Server, s.CAPEM = server, caPEM
	if s.Interface == "" {
		s.Interface = d.freeInterfaceLocked()
	}
	return s
}

// replaceProfileLocked puts np in the place of the profile of its name and
// saves. It returns the profile replaced (nil: none), whose engine the
// caller stops once d.mu is released, even when the save failed. A changed
// profile that was kept stays kept with its new settings; a new one is kept
// once it has connected, unless keep says at once.
func (d *Daemon) replaceProfileLocked(np *profile, keep bool) (*profile, error) {
	old := d.profiles[np.set.Name]
	d.profiles[np.set.Name] = np
	np.saved = keep || (old != nil && old.saved)
	if err := d.saveLocked(); err != nil {
		return old, localapi.Errorf(localapi.CodeInternal, "%v", err)
	}
	return old, nil
}

// checkServer asks p's server for its config: only a ghostwire server that
// answers, over a certificate this machine trusts, may become a profile's
// server.
func (d *Daemon) checkServer(ctx context.Context, p *profile) error {
	ctx, cancel := context.WithTimeout(ctx, serverCheckTimeout)
	defer cancel()
	_, err := p.api.Config(ctx)
	switch {
	case err == nil:
		return nil
	case ctx.Err() != nil && errors.Is(ctx.Err(), context.DeadlineExceeded):
		return localapi.Errorf(localapi.CodeUnavailable, "the server %s did not answer within %s: check the URL and your network; nothing was changed",
			p.set.Server, serverCheckTimeout)
	case ctx.Err() != nil:
		return localapi.Errorf(localapi.CodeInternal, "cancelled; nothing was changed")
	case errors.Is(err, engine.ErrNotFound):
		// Something answers there, but not the ghostwire API.
		return localapi.Errorf(localapi.CodeBadRequest, "%s is not a ghostwire server (%v): check the URL; nothing was changed", p.set.Server, err)
	}
	return localapi.Errorf(engine.ErrorCode(err), "%v; nothing was changed", err)
}

// Remove disconnects a profile and forgets it.
func (d *Daemon) Remove(ctx context.Context, req localapi.ProfileRequest) error {
	d.changeMu.Lock()
	defer d.changeMu.Unlock()
	if req.All {
		return localapi.Errorf(localapi.CodeBadRequest, "name the profile to remove (`ghostwire profile list` shows them)")
	}
	if req.Profile == "" {
		return localapi.Errorf(localapi.CodeBadRequest, "name the profile to remove: `ghostwire profile remove NAME`")
	}
	es, err := d.targets(req)
	if err != nil {
		return err
	}
	es[0].Down()
	d.mu.Lock()
	delete(d.profiles, req.Profile)
	err = d.saveLocked()
	d.mu.Unlock()
	d.log.Info("profile removed", "profile", req.Profile)
	d.publish()
	if err != nil {
		return localapi.Errorf(localapi.CodeInternal, "%v", err)
	}
	return nil
}

// changed is told of every change of p's engine: a new profile is kept once
// it has connected; a new one whose first run ended without connecting is
// shown with its error but never written, and goes with `down`, `profile
// remove` or the daemon's restart.
func (d *Daemon) changed(p *profile) {
	if !p.saved && p.eng.Profile().State == localapi.StateConnected {
		d.mu.Lock()
		if !p.saved && d.profiles[p.set.Name] == p {
			p.saved = true
			if err := d.saveLocked(); err != nil {
				d.log.Error("could not save the profiles", "err", err)
			}
		}
		d.mu.Unlock()
	}
	d.publish()
}

// lastPeer keeps p's last registration across restarts: after a crash the
// next registration replaces the peer the crashed daemon left behind.
func (d *Daemon) lastPeer(p *profile, pub string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.profiles[p.set.Name] != p {
		return // a profile replaced by another server's: its peer expires there
	}
	p.set.LastPeer = pub
	if err := d.saveLocked(); err != nil {
		d.log.Error("could not save the profiles", "err", err)
	}
}

// dropTentative forgets the named profile if it was never kept (its first
// `up` failed or was given up).
func (d *Daemon) dropTentative(name string) {
	d.mu.Lock()
	p := d.profiles[name]
	drop := p != nil && !p.saved
	if drop {
		delete(d.profiles, name)
	}
	d.mu.Unlock()
	if drop {
		d.log.Info("forgetting a profile that never connected", "profile", name)
		d.publish()
	}
}
