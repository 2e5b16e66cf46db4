package daemon

import (
	"log/slog"

	"github.com/ghostwire/ghostwire/app/preset"
)

// ApplyPreset merges the organisation's preset into the profiles (see
// preset.Merge): its profile is added when missing, or follows the preset's
// server when the organisation changed it; nothing connects by itself. The
// menu then offers "Connect to <profile>" on first start.
func (d *Daemon) ApplyPreset(p preset.Preset) error {
	d.mu.Lock()
	var have []preset.Existing
	for _, pr := range d.profiles {
		have = append(have, preset.Existing{Name: pr.set.Name, Server: pr.set.Server, CAPEM: pr.set.CAPEM})
	}
	action, why := preset.Merge(p, have)
	if action == preset.Keep {
		d.mu.Unlock()
		d.log.Info("preset", "profile", p.Profile, "source", p.Source, "result", why)
		return nil
	}
	np, err := d.newProfile(d.movedLocked(p.Profile, d.profiles[p.Profile], p.Server, p.CAPEM))
	if err != nil {
		d.mu.Unlock()
		return err
	}
	// The organisation's profile is kept before it ever connects.
	old, err := d.replaceProfileLocked(np, true)
	d.mu.Unlock()
	if old != nil {
		old.eng.Down() // the organisation moved the server: the old connection goes
	}
	if err != nil {
		return err
	}
	d.log.Info("preset", "profile", p.Profile, "source", p.Source, "result", why)
	d.publish()
	return nil
}

// applySystemPreset reads this OS's preset places and applies the first
// preset found; problems are logged, never fatal.
func applySystemPreset(d *Daemon, sources []preset.Source, log *slog.Logger) {
	p, errs := preset.Load(sources)
	for _, err := range errs {
		log.Warn("preset ignored", "err", err)
	}
	if p == nil {
		return
	}
	if err := d.ApplyPreset(*p); err != nil {
		log.Warn("preset not applied", "source", p.Source, "err", err)
	}
}
