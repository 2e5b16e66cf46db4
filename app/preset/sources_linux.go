package preset

// LinuxFile is the system-wide preset on Linux, written by configuration
// management (or baked into an image); the .deb/.rpm ship an example in
// /usr/share/doc/ghostwire/preset.json.example.
const LinuxFile = "/etc/ghostwire/preset.json"

// SystemSources are this OS's places for a preset, in order of precedence.
func SystemSources() []Source { return []Source{File{Path: LinuxFile}} }
