package macos

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"strings"
	"text/template"

	"github.com/google/uuid"
	"howett.net/plist"

	"github.com/ghostwire/ghostwire/app/preset"
	"github.com/ghostwire/ghostwire/packaging/release"
)

// PkgID is the installer package's identifier: its receipt (`pkgutil
// --pkgs`), which the uninstall script forgets.
const PkgID = BundleID + ".pkg"

// componentBundle is one entry of pkgbuild's --component-plist.
type componentBundle struct {
	RootRelativeBundlePath string `plist:"RootRelativeBundlePath"`
	// BundleIsRelocatable false: an upgrade replaces /Applications/Ghostwire.app,
	// never a copy the person moved elsewhere (pkgbuild's default would
	// follow the app wherever it is, and the LaunchDaemon points here).
	BundleIsRelocatable bool `plist:"BundleIsRelocatable"`
	// BundleIsVersionChecked false: a reinstall of the same or an older
	// build still lays the app down (the pkg decides, not the bundle version).
	BundleIsVersionChecked    bool   `plist:"BundleIsVersionChecked"`
	BundleHasStrictIdentifier bool   `plist:"BundleHasStrictIdentifier"`
	BundleOverwriteAction     string `plist:"BundleOverwriteAction"`
}

// ComponentPlist is pkgbuild's --component-plist for the payload.
func ComponentPlist() ([]byte, error) {
	b, err := plist.MarshalIndent([]componentBundle{{
		RootRelativeBundlePath: "Applications/" + AppName + ".app",
		BundleIsRelocatable:    false, BundleIsVersionChecked: false, BundleHasStrictIdentifier: true,
		BundleOverwriteAction: "upgrade",
	}}, plist.XMLFormat, "\t")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// distributionTemplate is productbuild's Distribution file: a machine-wide
// install (domains: local system only), no customization, macOS 12 or
// later on Apple silicon or Intel.
var distributionTemplate = template.Must(template.New("dist").Funcs(template.FuncMap{"x": xmlText}).Parse(`<?xml version="1.0" encoding="utf-8"?>
<installer-gui-script minSpecVersion="2">
    <title>Ghostwire</title>
    <organization>{{x .BundleID}}</organization>
    <options customize="never" require-scripts="true" rootVolumeOnly="true" hostArchitectures="arm64,x86_64"/>
    <domains enable_anywhere="false" enable_currentUserHome="false" enable_localSystem="true"/>
    <volume-check>
        <allowed-os-versions>
            <os-version min="{{x .MinOS}}"/>
        </allowed-os-versions>
    </volume-check>
    <choices-outline>
        <line choice="default">
            <line choice="{{x .PkgID}}"/>
        </line>
    </choices-outline>
    <choice id="default"/>
    <choice id="{{x .PkgID}}" visible="false">
        <pkg-ref id="{{x .PkgID}}"/>
    </choice>
    <pkg-ref id="{{x .PkgID}}" version="{{x .Version}}" onConclusion="none">{{x .Component}}</pkg-ref>
</installer-gui-script>
`))

func xmlText(s string) string {
	var b bytes.Buffer
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}

// ComponentPkg is the file name pkgbuild writes and the Distribution names.
const ComponentPkg = "ghostwire-component.pkg"

// Distribution is productbuild's --distribution file for version.
func Distribution(version string) ([]byte, error) {
	var b bytes.Buffer
	err := distributionTemplate.Execute(&b, map[string]string{
		"BundleID": BundleID, "MinOS": MinimumMacOS, "PkgID": PkgID, "Version": version, "Component": ComponentPkg,
	})
	return b.Bytes(), err
}

// profile is a configuration profile (.mobileconfig) with one
// managed-preferences payload for ghostwire's domain.
type profile struct {
	PayloadContent           []map[string]any `plist:"PayloadContent"`
	PayloadDescription       string           `plist:"PayloadDescription"`
	PayloadDisplayName       string           `plist:"PayloadDisplayName"`
	PayloadIdentifier        string           `plist:"PayloadIdentifier"`
	PayloadOrganization      string           `plist:"PayloadOrganization,omitempty"`
	PayloadScope             string           `plist:"PayloadScope"`
	PayloadType              string           `plist:"PayloadType"`
	PayloadUUID              string           `plist:"PayloadUUID"`
	PayloadVersion           int              `plist:"PayloadVersion"`
	PayloadRemovalDisallowed bool             `plist:"PayloadRemovalDisallowed"`
}

// PresetProfile is a configuration profile that presets the cluster on
// every Mac it is installed on (Jamf Pro: Configuration Profiles › Upload,
// or Application & Custom Settings with the same keys; Intune: Templates ›
// Custom, or Preference file): macOS writes the keys to
// /Library/Managed Preferences/com.ghostwire.Ghostwire.plist, which the
// daemon reads at start (app/preset), like the MSI's SERVERURL and PROFILE.
// profileName may be empty (a name from the host). The UUIDs derive from
// the server and name, so the same settings give the same profile (an MDM
// then sees an update, not a second profile).
func PresetProfile(server, profileName, organization string) ([]byte, error) {
	settings := map[string]string{preset.KeyServer: server}
	if profileName != "" {
		settings[preset.KeyProfile] = profileName
	}
	p, err := preset.FromValues(settings, "the profile's settings")
	if err != nil {
		return nil, err
	}
	ns := uuid.MustParse("f475b269-3b2e-4daf-b223-7efbc5ea5741")
	id := func(what string) string {
		return strings.ToUpper(uuid.NewSHA1(ns, []byte(what+"\x00"+p.Server+"\x00"+p.Profile)).String())
	}
	payload := map[string]any{
		"PayloadType":        preset.PreferenceDomain,
		"PayloadVersion":     1,
		"PayloadIdentifier":  BundleID + ".preset.settings",
		"PayloadUUID":        id("settings"),
		"PayloadDisplayName": "Ghostwire cluster",
		preset.KeyServer:     p.Server,
		preset.KeyProfile:    p.Profile,
	}
	b, err := plist.MarshalIndent(profile{
		PayloadContent:     []map[string]any{payload},
		PayloadDescription: fmt.Sprintf("Offers \"Connect to %s\" (%s) in the Ghostwire menu on every Mac with this profile.", p.Profile, p.Server),
		PayloadDisplayName: "Ghostwire: " + p.Profile, PayloadIdentifier: BundleID + ".preset",
		PayloadOrganization: organization, PayloadScope: "System", PayloadType: "Configuration",
		PayloadUUID: id("profile"), PayloadVersion: 1, PayloadRemovalDisallowed: true,
	}, plist.XMLFormat, "\t")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// pkgVersion is what the receipt and the Distribution record.
func pkgVersion(v release.Version) string { return v.String() }
