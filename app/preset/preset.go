// Package preset reads the cluster an organisation configures for every
// person on a machine (a "preset": server URL, profile name, optionally a
// private CA), so that on first start the menu already offers "Connect to
// <profile>" and nobody types a URL. Each OS has its own system-wide place,
// written by the IT department's tooling: /etc/ghostwire/preset.json on
// Linux (config management, or the image), the HKLM policy key the MSI's
// SERVERURL/PROFILE properties write on Windows, managed preferences (a
// configuration profile from Jamf, Intune...) on macOS. SystemSources lists
// this OS's places; the reading, validation and merging rules are here and
// portable.
//
// The daemon applies the preset at every start (app/daemon): the preset's
// profile is created when missing, and its server follows the preset when
// the organisation changes it. A profile the person already has for the same
// server is kept under its own name (no duplicate).
package preset

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/ghostwire/ghostwire/app/addcluster"
	"github.com/ghostwire/ghostwire/app/localapi"
	"github.com/ghostwire/ghostwire/app/serverclient"
)

// Preset is one organisation-configured cluster.
type Preset struct {
	// Server is the server's https URL.
	Server string `json:"server"`
	// Profile names the profile; empty means one made from the host.
	Profile string `json:"profile,omitempty"`
	// CAPEM is the PEM text of a private CA to trust for this server, for
	// organisations whose server certificate is not from a public CA.
	CAPEM string `json:"ca_pem,omitempty"`
	// Source says where it came from (for logs and messages).
	Source string `json:"-"`
}

// maxFile bounds a preset file (a CA chain fits many times).
const maxFile = 256 << 10

// Parse reads a preset in JSON, strictly: unknown keys are refused (a typo
// like "sever" must not be silently ignored).
func Parse(b []byte, source string) (Preset, error) {
	if len(b) > maxFile {
		return Preset{}, fmt.Errorf("%s is larger than %d KiB: it is not a ghostwire preset", source, maxFile>>10)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var p Preset
	if err := dec.Decode(&p); err != nil {
		return Preset{}, fmt.Errorf("%s is not a valid preset (%v): it holds {\"server\": \"https://…\", \"profile\": \"name\"}", source, err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return Preset{}, fmt.Errorf("%s holds more than one JSON object: keep one preset", source)
	}
	p.Source = source
	return p.normalize()
}

// Value names for key/value sources (the Windows policy key's values, the
// macOS managed preferences' keys): ServerURL, Profile, CAPEM.
const (
	KeyServer  = "ServerURL"
	KeyProfile = "Profile"
	KeyCA      = "CAPEM"
)

// FromValues builds a preset from key/value settings (names compared without
// regard to case). An empty ServerURL means no preset: (nil, nil).
func FromValues(values map[string]string, source string) (*Preset, error) {
	var p Preset
	for k, v := range values {
		switch {
		case strings.EqualFold(k, KeyServer):
			p.Server = v
		case strings.EqualFold(k, KeyProfile):
			p.Profile = v
		case strings.EqualFold(k, KeyCA):
			p.CAPEM = v
		default:
			return nil, fmt.Errorf("%s has a setting ghostwire does not know (%q): use %s, %s and %s", source, k, KeyServer, KeyProfile, KeyCA)
		}
	}
	if strings.TrimSpace(p.Server) == "" {
		if p.Profile != "" || p.CAPEM != "" {
			return nil, fmt.Errorf("%s sets %s or %s but no %s", source, KeyProfile, KeyCA, KeyServer)
		}
		return nil, nil
	}
	p.Source = source
	n, err := p.normalize()
	if err != nil {
		return nil, err
	}
	return &n, nil
}

// normalize checks every field and fills in the profile name.
func (p Preset) normalize() (Preset, error) {
	s := strings.TrimSpace(p.Server)
	if s == "" {
		return Preset{}, fmt.Errorf("%s names no server: set \"server\": \"https://vpn.example.com\"", p.Source)
	}
	if !strings.HasPrefix(strings.ToLower(s), "https://") {
		return Preset{}, fmt.Errorf("%s: the server must be an https:// URL (a preset never sends a sign-in in clear text)", p.Source)
	}
	u, err := serverclient.ParseServerURL(s)
	if err != nil {
		return Preset{}, fmt.Errorf("%s: %v", p.Source, err)
	}
	p.Server = u.String() // https (checked above), its host in lower case
	p.Profile = strings.TrimSpace(p.Profile)
	if p.Profile == "" {
		p.Profile, _ = addcluster.ProfileName(p.Server, nil)
	}
	if !addcluster.ValidName.MatchString(p.Profile) {
		return Preset{}, fmt.Errorf("%s: the profile name %q is not valid: use up to 32 lower-case letters, digits, '-' or '_'", p.Source, p.Profile)
	}
	if p.CAPEM != "" {
		if err := localapi.CheckCAPEM([]byte(p.CAPEM)); err != nil {
			return Preset{}, fmt.Errorf("%s: the private CA cannot be used: %v", p.Source, err)
		}
	}
	return p, nil
}

// Source is one system-wide place a preset may be configured.
type Source interface {
	// Name says where, for messages ("/etc/ghostwire/preset.json").
	Name() string
	// Read returns the preset there, or (nil, nil) when none is configured.
	Read() (*Preset, error)
}

// Load reads sources in order and returns the first preset found. A broken
// source is reported in errs and skipped: a bad preset must never keep the
// daemon from starting.
func Load(sources []Source) (p *Preset, errs []error) {
	for _, s := range sources {
		got, err := s.Read()
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if got != nil {
			return got, errs
		}
	}
	return nil, errs
}

// Existing is what Merge needs to know of a profile the daemon has.
type Existing struct {
	Name, Server, CAPEM string
}

// Action is what Merge decided.
type Action int

// What to do with the daemon's profiles.
const (
	// Keep: nothing to do (already there, or the person has this server under another name).
	Keep Action = iota
	// Add the preset's profile.
	Add
	// Update the profile of that name to the preset's server and CA (the
	// organisation moved it).
	Update
)

// Merge decides how the preset meets the daemon's profiles, and says why.
func Merge(p Preset, profiles []Existing) (Action, string) {
	for _, e := range profiles {
		if e.Name == p.Profile {
			if strings.EqualFold(strings.TrimSuffix(e.Server, "/"), p.Server) && (p.CAPEM == "" || p.CAPEM == e.CAPEM) {
				return Keep, "the preset's profile is already there"
			}
			return Update, fmt.Sprintf("the preset (%s) sets profile %q to %s (it had %s)", p.Source, p.Profile, p.Server, e.Server)
		}
	}
	for _, e := range profiles {
		if strings.EqualFold(strings.TrimSuffix(e.Server, "/"), p.Server) {
			return Keep, fmt.Sprintf("the preset's server is already profile %q", e.Name)
		}
	}
	return Add, fmt.Sprintf("the preset (%s) adds profile %q for %s", p.Source, p.Profile, p.Server)
}
