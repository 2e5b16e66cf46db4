package preset

import (
	"fmt"
	"strings"

	"howett.net/plist"
)

// ManagedPreferences is a preset in a macOS managed-preferences file: the
// plist macOS writes into /Library/Managed Preferences when a configuration
// profile (Jamf, Intune, Kandji, any MDM) sets keys of ghostwire's domain for
// the whole computer. It holds the keys of FromValues: ServerURL, Profile and
// optionally CAPEM, each a string.
//
// It is portable (a file and a plist) so that it is tested everywhere; only
// SystemSources on macOS points it at the real file.
type ManagedPreferences struct {
	Path string
}

// Name is the file's path.
func (m ManagedPreferences) Name() string { return m.Path }

// Read returns the preset in the file, (nil, nil) when there is none. The
// file must be owned by root and writable by nobody else, as macOS writes
// it: anyone able to change it could send people to another server.
func (m ManagedPreferences) Read() (*Preset, error) {
	return readAdminFile(m.Path, "managed preferences", true, "only macOS's device management writes this folder",
		func(b []byte) (*Preset, error) { return ParseManagedPreferences(b, m.Path) })
}

// ParseManagedPreferences reads a managed-preferences plist (XML or binary,
// as macOS writes either): a dictionary of string values. Keys that macOS or
// the MDM add about the profile itself (Payload…, and those starting with
// "_") are skipped; any other key ghostwire does not know is an error, so a
// typo in a profile is reported rather than ignored. A file without
// ServerURL means no preset.
func ParseManagedPreferences(b []byte, source string) (*Preset, error) {
	if len(b) > maxFile {
		return nil, fmt.Errorf("%s is larger than %d KiB: it is not a ghostwire preset", source, maxFile>>10)
	}
	var raw map[string]any
	if _, err := plist.Unmarshal(b, &raw); err != nil {
		return nil, fmt.Errorf("%s is not a property list of settings (%v): the configuration profile must set ServerURL (and optionally Profile) as strings", source, err)
	}
	values := map[string]string{}
	for k, v := range raw {
		if strings.HasPrefix(k, "Payload") || strings.HasPrefix(k, "_") {
			continue
		}
		s, ok := v.(string)
		if !ok {
			return nil, fmt.Errorf("%s: the setting %s must be a string, not %T", source, k, v)
		}
		values[k] = s
	}
	return FromValues(values, source)
}
