package deploy

import (
	"fmt"
	"maps"
	"net"
	"strconv"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/ghostwire/ghostwire/server/config"
)

// How the server is reached: Services, Ingress, NetworkPolicy, and the port
// helpers they share with the policy checks.

func checkServices(t *testing.T, r *rendered, d *workload, cfg *config.Config) {
	t.Helper()
	c := container(t, d, serverCont)
	wg := map[string]bool{}
	for _, name := range wireGuardServices(cfg, d) {
		wg[name] = true
	}
	for _, s := range r.services {
		if !d.selects(s.Spec.Selector) {
			t.Errorf("Service %s does not select the server pod", s.Name)
		}
		for _, p := range s.Spec.Ports {
			cp := resolvePort(t, c, p.TargetPort)
			if cp == 0 {
				t.Errorf("Service %s port %s targets %s, which the container does not expose", s.Name, p.Name, p.TargetPort.String())
			}
			if wg[s.Name] && (p.Protocol != corev1.ProtocolUDP || int(cp) != cfg.ListenPort) {
				t.Errorf("WireGuard Service port %s: %s → %d, want UDP → %d", p.Name, p.Protocol, cp, cfg.ListenPort)
			}
		}
	}
	if cfg.Endpoint == "" {
		// Every replica's endpoint Service exists, is a LoadBalancer, selects
		// that replica alone, and all of them are alike (a patch or component
		// applied to one and not the others would be a surprise).
		var first *corev1.Service
		for ordinal, name := range wireGuardServices(cfg, d) {
			var found *corev1.Service
			for _, s := range r.services {
				if s.Namespace == namespace && s.Name == name {
					found = s
				}
			}
			if found == nil {
				t.Errorf("GHOSTWIRE_KUBE_SERVICE=%s names no rendered Service %s", cfg.KubeService, name)
				continue
			}
			if found.Spec.Type != corev1.ServiceTypeLoadBalancer {
				t.Errorf("%s is not a LoadBalancer", name)
			}
			if d.Kind == "StatefulSet" && found.Spec.Selector[podNameLabel] != fmt.Sprintf("%s-%d", d.Name, ordinal) {
				t.Errorf("Service %s selects pod %q, want %s-%d", name, found.Spec.Selector[podNameLabel], d.Name, ordinal)
			}
			if first == nil {
				first = found
				continue
			}
			if !maps.Equal(first.Annotations, found.Annotations) || first.Spec.ExternalTrafficPolicy != found.Spec.ExternalTrafficPolicy {
				t.Errorf("Services %s and %s differ: annotations %v vs %v", first.Name, found.Name, first.Annotations, found.Annotations)
			}
		}
	}
}

func checkIngress(t *testing.T, r *rendered, d *workload) {
	t.Helper()
	for _, ing := range r.ingresses {
		if len(ing.Spec.TLS) == 0 || ing.Annotations["cert-manager.io/cluster-issuer"] == "" {
			t.Errorf("Ingress %s has no TLS from cert-manager", ing.Name)
		}
		if ing.Annotations["nginx.ingress.kubernetes.io/backend-protocol"] != "HTTPS" {
			t.Errorf("Ingress %s would speak plain HTTP to the pod", ing.Name)
		}
		for _, rule := range ing.Spec.Rules {
			for _, p := range rule.HTTP.Paths {
				if p.Path != "/v1" {
					t.Errorf("Ingress %s exposes %s; only the /v1 API belongs on the internet", ing.Name, p.Path)
				}
				b := p.Backend.Service
				var ok bool
				for _, s := range r.services {
					for _, sp := range s.Spec.Ports {
						if s.Name == b.Name && (sp.Name == b.Port.Name || sp.Port == b.Port.Number) {
							ok = resolvePort(t, container(t, d, serverCont), sp.TargetPort) == containerPort(t, container(t, d, serverCont), "https").ContainerPort
						}
					}
				}
				if !ok {
					t.Errorf("Ingress %s backend %s:%v does not reach the server's HTTPS port", ing.Name, b.Name, b.Port)
				}
			}
		}
	}
}

// checkNetworkPolicy: a policy selects the server pod, admits WireGuard UDP
// from anywhere, and names only ports the server exposes.
func checkNetworkPolicy(t *testing.T, r *rendered, d *workload) {
	t.Helper()
	c := container(t, d, serverCont)
	wg := containerPort(t, c, "wireguard")
	for _, np := range r.netpols {
		sel := labels.SelectorFromSet(np.Spec.PodSelector.MatchLabels)
		if !sel.Matches(labels.Set(d.Template.Labels)) {
			t.Errorf("NetworkPolicy %s does not select the server pod", np.Name)
		}
		var udpOpen bool
		for _, rule := range np.Spec.Ingress {
			for _, p := range rule.Ports {
				cp := resolvePort(t, c, *p.Port)
				if cp == 0 {
					t.Errorf("NetworkPolicy %s admits port %s, which the server does not expose", np.Name, p.Port.String())
				}
				if cp == wg.ContainerPort && p.Protocol != nil && *p.Protocol == corev1.ProtocolUDP && len(rule.From) == 0 {
					udpOpen = true
				}
			}
		}
		if !udpOpen {
			t.Errorf("NetworkPolicy %s does not admit WireGuard (UDP %d) from anywhere", np.Name, wg.ContainerPort)
		}
	}
}

func containerPort(t *testing.T, c *corev1.Container, name string) corev1.ContainerPort {
	t.Helper()
	for _, p := range c.Ports {
		if p.Name == name {
			return p
		}
	}
	t.Fatalf("container %s has no port named %s", c.Name, name)
	return corev1.ContainerPort{}
}

// resolvePort returns the container port a named or numbered port means, 0 if none.
func resolvePort(t *testing.T, c *corev1.Container, p intstr.IntOrString) int32 {
	t.Helper()
	for _, cp := range c.Ports {
		if p.Type == intstr.String && cp.Name == p.StrVal || p.Type == intstr.Int && cp.ContainerPort == p.IntVal {
			return cp.ContainerPort
		}
	}
	return 0
}

func portOf(t *testing.T, hostport string) int32 {
	t.Helper()
	_, p, err := net.SplitHostPort(hostport)
	if err != nil {
		t.Fatalf("%q: %v", hostport, err)
	}
	n, err := strconv.Atoi(p)
	if err != nil {
		t.Fatalf("%q: %v", hostport, err)
	}
	return int32(n)
}
