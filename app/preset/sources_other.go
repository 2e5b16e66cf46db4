//go:build !linux && !windows && !darwin

package preset

// SystemSources are this OS's places for a preset: none outside Linux,
// Windows and macOS.
func SystemSources() []Source { return nil }
