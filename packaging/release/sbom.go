package release

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	cdx "github.com/CycloneDX/cyclonedx-go"
	"github.com/google/uuid"
)

// SBOMSuffix ends every SBOM's file name: <artifact>.cdx.json.
const SBOMSuffix = ".cdx.json"

// The SBOM of an artifact is CycloneDX 1.6 JSON. Its subject
// (metadata.component) is the artifact itself, with its SHA-256; inside it
// are the Go programs it installs, each with the modules compiled into it and
// the Go standard library, as cyclonedx-gomod reads them from the binary
// itself (`cyclonedx-gomod bin`: what was linked, not what go.mod lists).
// cyclonedx-gomod is pinned as a tool of the packaging module (go.mod `tool`
// line, checksums in go.sum), so every build uses the same version.

// packageVersion is the version an artifact's format records.
func packageVersion(format string, v Version) string {
	switch format {
	case "deb":
		return v.Deb()
	case "rpm":
		ver, rel := v.RPM()
		return ver + "-" + rel
	}
	return v.String()
}

func purl(a Artifact, v Version) string {
	t := Target{Format: a.Format, OS: a.OS, Arch: a.Arch}
	switch a.Format {
	case "deb", "rpm":
		return fmt.Sprintf("pkg:%s/ghostwire/%s@%s?arch=%s", a.Format, PackageName, packageVersion(a.Format, v), t.FormatArch())
	}
	return fmt.Sprintf("pkg:generic/%s@%s?download_url=%s&os=%s&arch=%s", PackageName, v.String(), a.File, a.OS, a.Arch)
}

func writeSBOM(ctx context.Context, b *Build, a Artifact) (string, error) {
	if len(a.Binaries) == 0 {
		return "", fmt.Errorf("the builder did not say which programs %s holds", a.File)
	}
	ref := "artifact:" + a.File
	props := []cdx.Property{
		{Name: "ghostwire:format", Value: a.Format},
		{Name: "ghostwire:os", Value: a.OS},
		{Name: "ghostwire:arch", Value: a.Arch},
		{Name: "ghostwire:commit", Value: b.Version.Hash},
	}
	for _, r := range a.TestBuild {
		props = append(props, cdx.Property{Name: "ghostwire:test-build", Value: r})
	}
	bom := cdx.NewBOM()
	bom.SerialNumber = "urn:uuid:" + uuid.NewSHA1(uuid.NameSpaceURL, []byte("ghostwire-sbom:"+a.SHA256)).String()
	bom.Metadata = &cdx.Metadata{
		Timestamp: b.Version.Time.Format(time.RFC3339),
		Supplier:  &cdx.OrganizationalEntity{Name: Vendor, URL: &[]string{Homepage}},
		Component: &cdx.Component{
			BOMRef: ref, Type: cdx.ComponentTypeApplication, Name: PackageName,
			Version: packageVersion(a.Format, b.Version), Description: Summary, PackageURL: purl(a, b.Version),
			Hashes:     &[]cdx.Hash{{Algorithm: cdx.HashAlgoSHA256, Value: a.SHA256}},
			Properties: &props,
		},
	}
	var comps []cdx.Component
	var deps []cdx.Dependency
	var apps []string
	seen := map[string]bool{}
	for _, bin := range a.Binaries {
		sub, err := binarySBOM(ctx, b, bin)
		if err != nil {
			return "", err
		}
		if bom.Metadata.Tools == nil {
			bom.Metadata.Tools = sub.Metadata.Tools
		}
		app := *sub.Metadata.Component
		oldRef := app.BOMRef
		app.BOMRef = oldRef + ":" + bin.Name
		app.Version = b.Version.String()
		app.Hashes = &[]cdx.Hash{{Algorithm: cdx.HashAlgoSHA256, Value: bin.SHA256}}
		binProps := []cdx.Property{{Name: "ghostwire:binary", Value: bin.Name}}
		goVersion := ""
		if sub.Metadata.Properties != nil {
			for _, p := range *sub.Metadata.Properties {
				if strings.HasPrefix(p.Name, "cdx:gomod:build:") {
					binProps = append(binProps, p)
				}
				if p.Name == "cdx:gomod:build:env:GOVERSION" {
					goVersion = p.Value
				}
			}
		}
		app.Properties = &binProps
		comps = append(comps, app)
		apps = append(apps, app.BOMRef)
		var appDeps []string
		if sub.Components != nil {
			for _, c := range *sub.Components {
				appDeps = append(appDeps, c.BOMRef)
				if !seen[c.BOMRef] {
					seen[c.BOMRef] = true
					comps = append(comps, c)
				}
			}
		}
		// The standard library is compiled in too (its vulnerabilities are ours).
		if goVersion != "" {
			std := "pkg:golang/std@" + goVersion + "?type=module"
			appDeps = append(appDeps, std)
			if !seen[std] {
				seen[std] = true
				comps = append(comps, cdx.Component{BOMRef: std, Type: cdx.ComponentTypeLibrary, Name: "std",
					Version: goVersion, PackageURL: std, Scope: cdx.ScopeRequired})
			}
		}
		deps = append(deps, cdx.Dependency{Ref: app.BOMRef, Dependencies: &appDeps})
	}
	deps = append([]cdx.Dependency{{Ref: ref, Dependencies: &apps}}, deps...)
	for _, c := range comps {
		if c.Type == cdx.ComponentTypeLibrary {
			deps = append(deps, cdx.Dependency{Ref: c.BOMRef})
		}
	}
	bom.Components = &comps
	bom.Dependencies = &deps

	name := a.File + SBOMSuffix
	var buf bytes.Buffer
	enc := cdx.NewBOMEncoder(&buf, cdx.BOMFileFormatJSON)
	enc.SetPretty(true)
	if err := enc.EncodeVersion(bom, cdx.SpecVersion1_6); err != nil {
		return "", err
	}
	return name, os.WriteFile(filepath.Join(b.Dist, name), buf.Bytes(), 0o644)
}

// binarySBOM runs the pinned cyclonedx-gomod on one built program.
func binarySBOM(ctx context.Context, b *Build, bin Binary) (*cdx.BOM, error) {
	out := bin.Path + SBOMSuffix
	cmd := exec.CommandContext(ctx, "go", "tool", "cyclonedx-gomod", "bin", "-json", "-noserial", "-notimestamp", "-output", out, bin.Path)
	cmd.Dir = filepath.Join(b.Root, "packaging") // the module that pins the tool
	if o, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("cyclonedx-gomod bin %s: %v\n%s", bin.Name, err, o)
	}
	f, err := os.Open(out)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var bom cdx.BOM
	if err := cdx.NewBOMDecoder(f, cdx.BOMFileFormatJSON).Decode(&bom); err != nil {
		return nil, fmt.Errorf("cyclonedx-gomod wrote an SBOM that cannot be read: %w", err)
	}
	if bom.Metadata == nil || bom.Metadata.Component == nil {
		return nil, fmt.Errorf("cyclonedx-gomod found no program in %s", bin.Path)
	}
	return &bom, nil
}
