package deploy

import (
	"embed"
	"fmt"
	"io/fs"
	"path"
	"strings"

	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"
)

// files are the manifests, compiled in so that tests anywhere (the server's
// tests against a real API server, say) use exactly what operators apply.
//
//go:embed base components overlays
var files embed.FS

// CRDs is the text of the CustomResourceDefinitions the ha component ships.
func CRDs() []byte {
	b, err := files.ReadFile("components/ha/crds.yaml")
	if err != nil {
		panic(err) // compiled in: cannot happen
	}
	return b
}

// Variant is one way to deploy: a kustomization directory (an overlay or the
// base) with components. Layered components go on top of the built
// directory, as `components:` in a kustomization of one's own; Inside ones are
// added first to the directory's own list, as an operator does who copies an
// overlay and edits it (its patches then run after them).
type Variant struct {
	Dir        string
	Components []string
	Inside     []string
}

func (v Variant) String() string {
	s := v.Dir
	for _, c := range v.Inside {
		s += "[" + path.Base(c) + "]"
	}
	for _, c := range v.Components {
		s += "+" + path.Base(c)
	}
	return s
}

// Object is one rendered object.
type Object struct {
	APIVersion, Kind, Name string
	YAML                   []byte
}

// Render builds v with the kustomize API (what `kubectl apply -k` runs).
func (v Variant) Render() ([]Object, error) {
	fsys := filesys.MakeFsInMemory()
	err := fs.WalkDir(files, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := files.ReadFile(p)
		if err != nil {
			return err
		}
		return fsys.WriteFile(path.Join("/deploy", p), b)
	})
	if err != nil {
		return nil, err
	}
	target := path.Join("/deploy", v.Dir)
	if len(v.Inside) > 0 {
		if err := addComponents(fsys, target, v.Inside); err != nil {
			return nil, err
		}
	}
	if len(v.Components) > 0 {
		var b strings.Builder
		fmt.Fprintf(&b, "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - ../%s\ncomponents:\n", v.Dir)
		for _, c := range v.Components {
			fmt.Fprintf(&b, "  - ../%s\n", c)
		}
		target = "/deploy/variant"
		if err := fsys.WriteFile(target+"/kustomization.yaml", []byte(b.String())); err != nil {
			return nil, err
		}
	}
	m, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(fsys, target)
	if err != nil {
		return nil, fmt.Errorf("kustomize build %s: %w", v, err)
	}
	var out []Object
	for _, r := range m.Resources() {
		y, err := r.AsYAML()
		if err != nil {
			return nil, err
		}
		out = append(out, Object{APIVersion: r.GetApiVersion(), Kind: r.GetKind(), Name: r.GetName(), YAML: y})
	}
	return out, nil
}

// addComponents puts components at the head of dir's own list.
func addComponents(fsys filesys.FileSystem, dir string, comps []string) error {
	file := dir + "/kustomization.yaml"
	b, err := fsys.ReadFile(file)
	if err != nil {
		return err
	}
	var k map[string]any
	if err := yaml.Unmarshal(b, &k); err != nil {
		return fmt.Errorf("%s: %w", file, err)
	}
	up := strings.Repeat("../", strings.Count(strings.TrimPrefix(dir, "/deploy/"), "/")+1)
	var list []any
	for _, c := range comps {
		list = append(list, up+c)
	}
	if old, ok := k["components"].([]any); ok {
		list = append(list, old...)
	}
	k["components"] = list
	if b, err = yaml.Marshal(k); err != nil {
		return err
	}
	return fsys.WriteFile(file, b)
}
