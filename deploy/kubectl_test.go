package deploy

import (
	"os/exec"
	"slices"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// TestKubectlKustomize renders the overlays with the kustomize built into the
// kubectl on this machine (older than the API used above: kubectl 1.32 has
// kustomize v5.5.0), since that is what `kubectl apply -k` runs, and expects
// the same objects. Skipped where there is no kubectl.
func TestKubectlKustomize(t *testing.T) {
	kubectl, err := exec.LookPath("kubectl")
	if err != nil {
		t.Skip("no kubectl on this machine")
	}
	if v, err := exec.Command(kubectl, "version", "--client").CombinedOutput(); err == nil {
		t.Logf("%s", strings.TrimSpace(string(v)))
	}
	for _, v := range variants {
		if len(v.Components)+len(v.Inside) > 0 {
			continue
		}
		t.Run(v.Dir, func(t *testing.T) {
			out, err := exec.Command(kubectl, "kustomize", v.Dir).Output()
			if err != nil {
				msg := ""
				if ee, ok := err.(*exec.ExitError); ok {
					msg = string(ee.Stderr)
					if len(msg) > 600 {
						msg = msg[:600]
					}
				}
				t.Fatalf("kubectl kustomize %s: %v\n%s", v.Dir, err, msg)
			}
			var got []string
			for _, doc := range strings.Split(string(out), "\n---\n") {
				var m struct {
					Kind     string `json:"kind"`
					Metadata struct {
						Name string `json:"name"`
					} `json:"metadata"`
				}
				if err := yaml.Unmarshal([]byte(doc), &m); err != nil {
					t.Fatal(err)
				}
				got = append(got, m.Kind+"/"+m.Metadata.Name)
			}
			want := render(t, v).kinds
			// Generated names carry a content hash, which versions may compute differently.
			for _, names := range [][]string{got, want} {
				for i, n := range names {
					if strings.HasPrefix(n, "ConfigMap/") && len(n) > 11 && n[len(n)-11] == '-' {
						names[i] = n[:len(n)-11]
					}
				}
			}
			slices.Sort(got)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Fatalf("kubectl renders %v\nthe kustomize API renders %v", got, want)
			}
		})
	}
}
