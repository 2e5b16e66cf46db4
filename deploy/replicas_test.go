package deploy

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/ghostwire/ghostwire/server/config"
)

// podNameLabel is the label the StatefulSet controller puts on each pod.
const podNameLabel = "statefulset.kubernetes.io/pod-name"

// workload is the server's Deployment (one server) or StatefulSet (the ha
// component): what the policy checks read of either.
type workload struct {
	Kind, Name string
	Replicas   int32
	Template   corev1.PodTemplateSpec
}

func (r *rendered) workloads() []*workload {
	var out []*workload
	for _, d := range r.deployments {
		out = append(out, &workload{Kind: "Deployment", Name: d.Name, Replicas: ptrOr(d.Spec.Replicas, 1), Template: d.Spec.Template})
	}
	for _, s := range r.statefulsets {
		out = append(out, &workload{Kind: "StatefulSet", Name: s.Name, Replicas: ptrOr(s.Spec.Replicas, 1), Template: s.Spec.Template})
	}
	return out
}

func ptrOr(p *int32, d int32) int32 {
	if p == nil {
		return d
	}
	return *p
}

// workload is the one server workload; a Deployment must be the single,
// Recreate one (its state and key are in memory).
func (r *rendered) workload(t *testing.T) *workload {
	t.Helper()
	ws := r.workloads()
	if len(ws) != 1 {
		t.Fatalf("want one server workload, got %d (%v)", len(ws), r.kinds)
	}
	w := ws[0]
	if w.Name != serverName {
		t.Errorf("%s %s: want the name %s", w.Kind, w.Name, serverName)
	}
	if w.Kind == "Deployment" {
		d := r.deployments[0]
		if w.Replicas != 1 || d.Spec.Strategy.Type != appsv1.RecreateDeploymentStrategyType {
			t.Errorf("Deployment %s: want 1 replica, Recreate (one server's state is in memory; components/ha runs several)", d.Name)
		}
	}
	return w
}

// selects reports whether a Service selector picks the workload's pods (the
// per-pod label of a StatefulSet counts, for one of its ordinals).
func (d *workload) selects(sel map[string]string) bool {
	pod := labels.Set{}
	for k, v := range d.Template.Labels {
		pod[k] = v
	}
	if name, ok := sel[podNameLabel]; ok && d.Kind == "StatefulSet" {
		for i := int32(0); i < d.Replicas; i++ {
			if name == fmt.Sprintf("%s-%d", d.Name, i) {
				pod[podNameLabel] = name
			}
		}
	}
	return labels.SelectorFromSet(sel).Matches(pod)
}

// wireGuardServices maps each replica's ordinal to the Service its server
// reads its endpoint from (--kube-service, {ordinal} filled in).
func wireGuardServices(cfg *config.Config, d *workload) map[int]string {
	out := map[int]string{}
	if cfg.KubeService == "" {
		return out
	}
	for i := 0; i < int(d.Replicas); i++ {
		_, name, _ := strings.Cut(strings.ReplaceAll(cfg.KubeService, config.OrdinalPlaceholder, fmt.Sprint(i)), "/")
		out[i] = name
	}
	return out
}

// checkReplicas: the ha component's StatefulSet, settings and records agree.
func checkReplicas(t *testing.T, r *rendered, d *workload, cfg *config.Config) {
	t.Helper()
	s := r.statefulsets[0]
	if !cfg.KubeHA {
		t.Error("a StatefulSet of the server without GHOSTWIRE_KUBE_HA: every replica would keep its own peers")
	}
	if d.Replicas < 2 {
		t.Errorf("StatefulSet %s has %d replicas; the ha component is for several", s.Name, d.Replicas)
	}
	if !strings.Contains(cfg.KubeService, config.OrdinalPlaceholder) && cfg.Endpoint == "" {
		t.Errorf("GHOSTWIRE_KUBE_SERVICE=%s is the same for every replica: each needs its own endpoint (use %s)", cfg.KubeService, config.OrdinalPlaceholder)
	}
	if s.Spec.UpdateStrategy.Type != appsv1.RollingUpdateStatefulSetStrategyType || s.Spec.MinReadySeconds < 15 {
		t.Errorf("StatefulSet %s: want RollingUpdate with minReadySeconds ≥ 15 (clients learn a new replica's key before the next restarts)", s.Name)
	}
	if sel := s.Spec.Selector; sel == nil || !labels.SelectorFromSet(sel.MatchLabels).Matches(labels.Set(d.Template.Labels)) {
		t.Errorf("StatefulSet %s's selector does not select its own pods", s.Name)
	}
	var spread []string
	for _, c := range d.Template.Spec.TopologySpreadConstraints {
		spread = append(spread, c.TopologyKey)
	}
	if !slices.Contains(spread, "kubernetes.io/hostname") {
		t.Errorf("StatefulSet %s does not spread its replicas over nodes (topologySpreadConstraints %v)", s.Name, spread)
	}
	want := []string{"addresses.ghostwire.io", "peers.ghostwire.io", "replicas.ghostwire.io"}
	var got []string
	for _, c := range r.crds {
		got = append(got, c.Metadata.Name)
		if c.Spec.Scope != "Namespaced" || len(c.Spec.Versions) != 1 || c.Spec.Versions[0].Name != "v1alpha1" || c.Spec.Versions[0].Schema == nil {
			t.Errorf("CRD %s: want one namespaced version v1alpha1 with a schema", c.Metadata.Name)
		}
	}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("CRDs %v, want %v", got, want)
	}
	// Every replica reads its endpoint from a Service of its own (that
	// each is rendered: checkServices).
	distinct := map[string]bool{}
	for _, name := range wireGuardServices(cfg, d) {
		distinct[name] = true
	}
	if len(distinct) != int(d.Replicas) {
		t.Errorf("GHOSTWIRE_KUBE_SERVICE=%q names %d distinct WireGuard Services for %d replicas", cfg.KubeService, len(distinct), d.Replicas)
	}
}

// The one-server variants render exactly as before the ha component existed
// (the components now also accept a StatefulSet; what they render for the
// Deployment is unchanged): no StatefulSet, no CRD, no records permission.
func TestSingleServerVariantsUnchanged(t *testing.T) {
	for _, v := range variants {
		if slices.Contains(v.Components, "components/ha") || slices.Contains(v.Inside, "components/ha") {
			continue
		}
		r := render(t, v)
		if len(r.statefulsets)+len(r.crds) > 0 {
			t.Errorf("%s renders replica objects", v)
		}
		for _, k := range r.kinds {
			if strings.HasPrefix(k, "Service/ghostwire-wireguard-") {
				t.Errorf("%s renders %s", v, k)
			}
		}
	}
}
