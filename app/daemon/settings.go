package daemon

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sort"

	"github.com/ghostwire/ghostwire/internal/atomicfile"
)

// Settings is what is kept of a profile across restarts. Nothing in it is
// secret: no key, no token.
type Settings struct {
	Name   string `json:"name"`
	Server string `json:"server"`
	// CAPEM is the private CA's certificates (public, not secret).
	CAPEM     string `json:"ca_pem,omitempty"`
	Interface string `json:"interface"`
	// LegacyCAFile is a CA named by path, as older versions saved it; the
	// daemon no longer opens paths it was given, so it is dropped at load.
	LegacyCAFile string `json:"ca_file,omitempty"`
	// LastPeer is the public key (public, not secret) of the profile's last
	// registration that may still be on the server: after a crash the next
	// registration replaces it instead of counting as another device.
	LastPeer string `json:"last_peer,omitempty"`
}

type settingsFile struct {
	Profiles []Settings `json:"profiles"`
}

func loadSettings(path string) ([]Settings, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("cannot read the saved profiles %s: %w", path, err)
	}
	var f settingsFile
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("the saved profiles in %s are damaged (%v): fix or delete the file and run `ghostwire up` again", path, err)
	}
	return f.Profiles, nil
}

// saveLocked writes the kept profiles atomically (temp file + rename): a
// new profile that has not connected yet (p.saved false) is left out.
func (d *Daemon) saveLocked() error {
	var f settingsFile
	for _, p := range d.profiles {
		if p.saved {
			f.Profiles = append(f.Profiles, p.set)
		}
	}
	sort.Slice(f.Profiles, func(i, j int) bool { return f.Profiles[i].Name < f.Profiles[j].Name })
	b, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return err
	}
	if err := atomicfile.Write(d.settingsPath(), append(b, '\n'), 0o600, nil); err != nil {
		return fmt.Errorf("cannot save the profiles: %w", err)
	}
	return nil
}
