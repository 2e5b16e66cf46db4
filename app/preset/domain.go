package preset

// PreferenceDomain is ghostwire's macOS preference domain: the menu-bar
// app's bundle identifier (packaging/macos.BundleID), which a configuration
// profile names as its payload type.
const PreferenceDomain = "com.ghostwire.Ghostwire"

// PolicyKey is the Windows policy key under HKEY_LOCAL_MACHINE that holds a
// preset: written by the MSI's SERVERURL and PROFILE properties, or by
// Intune/Group Policy directly.
const PolicyKey = `SOFTWARE\Policies\Ghostwire`
