// Package daemon is the privileged ghostwire daemon: it implements
// localapi.Backend over one engine per profile, keeps the profiles' settings
// (never a secret) in its state directory, and refuses profiles whose routes
// overlap.
package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/ghostwire/ghostwire/app/addcluster"
	"github.com/ghostwire/ghostwire/app/engine"
	"github.com/ghostwire/ghostwire/app/localapi"
	"github.com/ghostwire/ghostwire/app/serverclient"
	"github.com/ghostwire/ghostwire/server/api"
)

// Version is the daemon's version, set at build time with -ldflags -X.
var Version = "dev"

// DefaultProfile is the name used when none is given and none exists.
const DefaultProfile = "default"

// Options configure a Daemon. Tunnels and NewSignIn are required.
type Options struct {
	StateDir        string // "" means DefaultStateDir
	InterfacePrefix string // "" means "gw": interfaces gw0, gw1, ...
	DeviceName      string // "" means the hostname
	Tunnels         engine.Tunnels
	// NewSignIn makes a profile's sign-in session; caPEM is the profile's
	// private CA (nil: none).
	NewSignIn func(cfg api.Config, caPEM []byte) (engine.SignIn, error)
	// NewAPI makes a server client; nil means serverclient.New.
	NewAPI func(server string, caPEM []byte) (engine.API, error)
	Clock  engine.Clock
	Timing engine.Timing
	Log    *slog.Logger
}

// Daemon implements localapi.Backend.
type Daemon struct {
	opt Options
	log *slog.Logger
	bc  localapi.Broadcaster

	// changeMu serializes what creates, changes or removes profiles; it
	// is held while a new server is asked for its config, never by a
	// call that only reads or drives engines.
	changeMu sync.Mutex

	mu       sync.Mutex
	seq      uint64
	profiles map[string]*profile
	claims   map[string][]netip.Prefix // routes in use, by profile
}

type profile struct {
	set Settings
	eng *engine.Engine
	api engine.API
	// saved: the profile is in profiles.json. A new profile is written
	// only once it has connected: one whose first `up` failed is not kept.
	saved bool
}

// New loads the saved profiles (disconnected) and returns the daemon.
func New(opt Options) (*Daemon, error) {
	if opt.StateDir == "" {
		opt.StateDir = DefaultStateDir
	}
	if opt.InterfacePrefix == "" {
		opt.InterfacePrefix = "gw"
	}
	if opt.DeviceName == "" {
		opt.DeviceName, _ = os.Hostname()
	}
	if opt.NewAPI == nil {
		opt.NewAPI = func(server string, ca []byte) (engine.API, error) { return serverclient.New(server, ca) }
	}
	if opt.Log == nil {
		opt.Log = slog.Default()
	}
	if opt.Tunnels == nil || opt.NewSignIn == nil {
		return nil, errors.New("daemon: Tunnels and NewSignIn are required")
	}
	if err := os.MkdirAll(opt.StateDir, 0o700); err != nil {
		return nil, fmt.Errorf("cannot create the state directory %s: %w", opt.StateDir, err)
	}
	d := &Daemon{opt: opt, log: opt.Log, profiles: map[string]*profile{}, claims: map[string][]netip.Prefix{}}
	saved, err := loadSettings(d.settingsPath())
	if err != nil {
		return nil, err
	}
	for _, s := range saved {
		if s.LegacyCAFile != "" {
			d.log.Warn("this profile names its private CA by path, which the daemon no longer reads; give it again",
				"profile", s.Name, "ca_file", s.LegacyCAFile, "fix", fmt.Sprintf("ghostwire up --profile %s --ca-file %s", s.Name, s.LegacyCAFile))
			s.LegacyCAFile = ""
		}
		p, err := d.newProfile(s)
		if err != nil {
			d.log.Warn("skipping a saved profile that cannot be used", "profile", s.Name, "err", err)
			continue
		}
		p.saved = true
		d.profiles[s.Name] = p
	}
	return d, nil
}

func (d *Daemon) settingsPath() string { return filepath.Join(d.opt.StateDir, "profiles.json") }

// JournalDir is where the tunnels journal their changes.
func (d *Daemon) JournalDir() string { return filepath.Join(d.opt.StateDir, "journal") }

func (d *Daemon) newProfile(s Settings) (*profile, error) {
	ca := []byte(s.CAPEM)
	client, err := d.opt.NewAPI(s.Server, ca)
	if err != nil {
		return nil, localapi.Errorf(localapi.CodeBadRequest, "%v", err)
	}
	p := &profile{set: s, api: client}
	p.eng = engine.New(engine.Config{
		Name: s.Name, Server: s.Server, Interface: s.Interface, DeviceName: d.opt.DeviceName,
		API: client, NewSignIn: func(cfg api.Config) (engine.SignIn, error) { return d.opt.NewSignIn(cfg, ca) }, Tunnels: d.opt.Tunnels, Clock: d.opt.Clock,
		Claim: d.claim, Release: d.release, OnChange: func() { d.changed(p) }, Log: d.log, Timing: d.opt.Timing,
		LastPeer: s.LastPeer, OnLastPeer: func(pub string) { d.lastPeer(p, pub) },
	})
	return p, nil
}

// Status is the whole state, profiles sorted by name.
func (d *Daemon) Status() localapi.Status {
	d.mu.Lock()
	engines := make([]*engine.Engine, 0, len(d.profiles))
	for _, p := range d.profiles {
		engines = append(engines, p.eng)
	}
	seq := d.seq
	d.mu.Unlock()
	st := localapi.Status{DaemonVersion: Version, Seq: seq, Profiles: []localapi.Profile{}}
	for _, e := range engines {
		st.Profiles = append(st.Profiles, e.Profile())
	}
	sort.Slice(st.Profiles, func(i, j int) bool { return st.Profiles[i].Name < st.Profiles[j].Name })
	return st
}

// Subscribe streams Status changes.
func (d *Daemon) Subscribe() (<-chan localapi.Status, func()) { return d.bc.Subscribe() }

func (d *Daemon) publish() {
	d.mu.Lock()
	d.seq++
	d.mu.Unlock()
	d.bc.Publish(d.Status())
}

// resolveName picks the profile a request means: the named one, else the only
// one, else the default.
func (d *Daemon) resolveName(name string) (string, error) {
	if name != "" {
		if !addcluster.ValidName.MatchString(name) {
			return "", localapi.Errorf(localapi.CodeBadRequest,
				"profile name %q is not valid: use up to 32 lower-case letters, digits, '-' or '_'", name)
		}
		return name, nil
	}
	if len(d.profiles) == 1 {
		for n := range d.profiles {
			return n, nil
		}
	}
	if len(d.profiles) > 1 {
		if _, ok := d.profiles[DefaultProfile]; !ok {
			return "", localapi.Errorf(localapi.CodeBadRequest, "there are several profiles (%s): choose one with --profile",
				strings.Join(d.namesLocked(), ", "))
		}
	}
	return DefaultProfile, nil
}

func (d *Daemon) namesLocked() []string {
	var ns []string
	for n := range d.profiles {
		ns = append(ns, n)
	}
	sort.Strings(ns)
	return ns
}

func (d *Daemon) freeInterfaceLocked() string {
	used := map[string]bool{}
	for _, p := range d.profiles {
		used[p.set.Interface] = true
	}
	for i := 0; ; i++ {
		n := fmt.Sprintf("%s%d", d.opt.InterfacePrefix, i)
		if !used[n] {
			return n
		}
	}
}

// targets returns the engines a ProfileRequest names.
func (d *Daemon) targets(req localapi.ProfileRequest) ([]*engine.Engine, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if req.All {
		var es []*engine.Engine
		for _, n := range d.namesLocked() {
			es = append(es, d.profiles[n].eng)
		}
		return es, nil
	}
	name, err := d.resolveName(req.Profile)
	if err != nil {
		return nil, err
	}
	p, ok := d.profiles[name]
	if !ok {
		if len(d.profiles) == 0 {
			return nil, localapi.Errorf(localapi.CodeNotFound, "no profile yet: run `ghostwire up https://vpn.example.com` first")
		}
		return nil, localapi.Errorf(localapi.CodeNotFound, "there is no profile %q (profiles: %s)", name, strings.Join(d.namesLocked(), ", "))
	}
	return []*engine.Engine{p.eng}, nil
}

// Down disconnects the named profile, or all. A profile that never
// connected (its first `up` failed or was cancelled) is forgotten.
func (d *Daemon) Down(ctx context.Context, req localapi.ProfileRequest) error {
	es, err := d.targets(req)
	if err != nil {
		return err
	}
	for _, e := range es {
		e.Down()
		d.dropTentative(e.Profile().Name)
	}
	return nil
}

// Login signs in without connecting (or reconnects a profile that needs it).
func (d *Daemon) Login(ctx context.Context, req localapi.ProfileRequest) error {
	es, err := d.targets(req)
	if err != nil {
		return err
	}
	mode := engine.SignInAuto
	if req.DeviceCode {
		mode = engine.SignInDeviceCode
	}
	for _, e := range es {
		e.Login(mode)
	}
	return nil
}

// Logout disconnects and forgets the sign-in.
func (d *Daemon) Logout(ctx context.Context, req localapi.ProfileRequest) error {
	es, err := d.targets(req)
	if err != nil {
		return err
	}
	for _, e := range es {
		e.Logout()
	}
	return nil
}

// Extend rotates the key now.
func (d *Daemon) Extend(ctx context.Context, req localapi.ProfileRequest) error {
	es, err := d.targets(req)
	if err != nil {
		return err
	}
	for _, e := range es {
		if err := e.Extend(); err != nil {
			return err
		}
	}
	return nil
}

// engines returns every profile's engine.
func (d *Daemon) engines() []*engine.Engine {
	d.mu.Lock()
	defer d.mu.Unlock()
	es := make([]*engine.Engine, 0, len(d.profiles))
	for _, p := range d.profiles {
		es = append(es, p.eng)
	}
	return es
}

// Notify hands an OS event to every profile. After a wake or a network
// change the pooled connections to the servers may ride an address that is
// gone: they are closed first.
func (d *Daemon) Notify(ev engine.Event) {
	for _, e := range d.engines() {
		if ev == engine.EventWake || ev == engine.EventNetworkChange {
			e.DropConnections()
		}
		e.Notify(ev)
	}
}

// DropConnections closes every profile's idle connections to its server and
// identity provider. The daemon calls it at every change of the network as
// it happens (not debounced): a `down` right after the address changed
// then dials afresh instead of waiting on a dead connection.
func (d *Daemon) DropConnections() {
	for _, e := range d.engines() {
		e.DropConnections()
	}
}

// Shutdown brings every tunnel down and removes the peers from the servers.
func (d *Daemon) Shutdown() {
	es := d.engines()
	var wg sync.WaitGroup
	for _, e := range es {
		wg.Add(1)
		go func() { defer wg.Done(); e.Down() }()
	}
	wg.Wait()
}

// claim refuses routes that overlap another profile's, naming both.
func (d *Daemon) claim(name string, routes []netip.Prefix) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	others := d.namesLocked()
	for _, other := range others {
		if other == name {
			continue
		}
		for _, theirs := range d.claims[other] {
			for _, ours := range routes {
				if ours.Overlaps(theirs) {
					return &engine.ServerError{Kind: engine.ErrConflict, Message: fmt.Sprintf(
						"profile %q routes %s, which overlaps %s of profile %q that is connected: disconnect one of them (`ghostwire down --profile %s`)",
						name, ours, theirs, other, other)}
				}
			}
		}
	}
	d.claims[name] = slices.Clone(routes)
	return nil
}

func (d *Daemon) release(name string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	delete(d.claims, name)
}
