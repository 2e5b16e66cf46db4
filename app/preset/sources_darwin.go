package preset

// ManagedPreferencesFile is where macOS puts the settings a configuration
// profile sets for the whole computer in ghostwire's preference domain (the
// app's bundle identifier). Profiles installed for one user only land in a
// folder of that user and are not read: the daemon serves every person on
// the Mac. packaging/macos writes an example profile.
const ManagedPreferencesFile = "/Library/Managed Preferences/" + PreferenceDomain + ".plist"

// SystemSources are this OS's places for a preset, in order of precedence.
func SystemSources() []Source {
	return []Source{ManagedPreferences{Path: ManagedPreferencesFile}}
}
