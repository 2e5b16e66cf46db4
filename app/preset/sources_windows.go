package preset

import (
	"errors"
	"fmt"
	"strings"

	"golang.org/x/sys/windows/registry"
)

// Registry is a preset in a key under HKEY_LOCAL_MACHINE (PolicyKey): the
// string values ServerURL, Profile and optionally CAPEM (REG_SZ, or
// REG_MULTI_SZ for a PEM of several lines). Only administrators (and
// SYSTEM) may write there.
type Registry struct {
	Key string
}

// Name is the key's full name.
func (r Registry) Name() string { return `HKLM\` + r.Key }

// Read returns the preset in the key, (nil, nil) when the key does not exist.
func (r Registry) Read() (*Preset, error) {
	k, err := registry.OpenKey(registry.LOCAL_MACHINE, r.Key, registry.QUERY_VALUE|registry.WOW64_64KEY)
	if errors.Is(err, registry.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("cannot read the preset in %s: %w", r.Name(), err)
	}
	defer k.Close()
	names, err := k.ReadValueNames(0)
	if err != nil {
		return nil, fmt.Errorf("cannot read the preset in %s: %w", r.Name(), err)
	}
	values := map[string]string{}
	for _, n := range names {
		if n == "" {
			continue // the key's default value: not a setting
		}
		s, _, err := k.GetStringValue(n)
		if errors.Is(err, registry.ErrUnexpectedType) {
			var lines []string
			if lines, _, err = k.GetStringsValue(n); err == nil {
				s = strings.Join(lines, "\n")
			}
		}
		if err != nil {
			return nil, fmt.Errorf("%s\\%s must be a string value (REG_SZ): %v", r.Name(), n, err)
		}
		values[n] = s
	}
	return FromValues(values, r.Name())
}

// SystemSources are this OS's places for a preset, in order of precedence.
func SystemSources() []Source { return []Source{Registry{Key: PolicyKey}} }
