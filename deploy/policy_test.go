package deploy

import (
	"slices"
	"strconv"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/spf13/pflag"

	"github.com/ghostwire/ghostwire/auth/devidp"
	"github.com/ghostwire/ghostwire/server/config"
	"github.com/ghostwire/ghostwire/server/wgdev"
)

const (
	namespace     = "ghostwire"
	serverName    = "ghostwire-server"
	serverCont    = "server"
	wireguardSvc  = "ghostwire-wireguard"
	tunDevicePath = "/dev/net/tun"
)

// TestPolicy checks every variant against what a platform team reviews: the
// security context, probes, ports, permissions, and that every setting is a
// flag of this very server build with a value it accepts.
func TestPolicy(t *testing.T) {
	for _, v := range variants {
		t.Run(v.String(), func(t *testing.T) {
			r := render(t, v)
			checkNoSecret(t, r)
			for _, o := range r.namespaced() {
				if o.ns != namespace {
					t.Errorf("%s is in namespace %q, want %q", o.id, o.ns, namespace)
				}
			}
			d := r.workload(t)
			cfg := serverConfig(t, r, d, v.Dir != "base")
			if d.Kind == "StatefulSet" {
				checkReplicas(t, r, d, cfg)
			} else if cfg.KubeHA {
				t.Error("GHOSTWIRE_KUBE_HA without the StatefulSet of components/ha")
			}
			checkPod(t, d)
			checkServerContainer(t, d, cfg)
			checkServices(t, r, d, cfg)
			checkRBAC(t, r, d, cfg)
			checkPDB(t, r, d)
			checkIngress(t, r, d)
			checkNetworkPolicy(t, r, d)
		})
	}
}

func one[T any](t *testing.T, xs []*T, what string) *T {
	t.Helper()
	if len(xs) != 1 {
		t.Fatalf("want exactly one %s, got %d", what, len(xs))
	}
	return xs[0]
}

type nsObject struct{ id, ns string }

func (r *rendered) namespaced() []nsObject {
	var out []nsObject
	add := func(kind, name, ns string) { out = append(out, nsObject{kind + "/" + name, ns}) }
	for _, o := range r.deployments {
		add("Deployment", o.Name, o.Namespace)
	}
	for _, o := range r.services {
		add("Service", o.Name, o.Namespace)
	}
	for _, o := range r.configMaps {
		add("ConfigMap", o.Name, o.Namespace)
	}
	for _, o := range r.accounts {
		add("ServiceAccount", o.Name, o.Namespace)
	}
	for _, o := range r.roles {
		add("Role", o.Name, o.Namespace)
	}
	for _, o := range r.roleBindings {
		add("RoleBinding", o.Name, o.Namespace)
	}
	for _, o := range r.ingresses {
		add("Ingress", o.Name, o.Namespace)
	}
	for _, o := range r.netpols {
		add("NetworkPolicy", o.Name, o.Namespace)
	}
	for _, o := range r.pdbs {
		add("PodDisruptionBudget", o.Name, o.Namespace)
	}
	for _, o := range r.certificates {
		add("Certificate", o.Metadata.Name, o.Metadata.Namespace)
	}
	for _, o := range r.issuers {
		add("Issuer", o.Metadata.Name, o.Metadata.Namespace)
	}
	return out
}

func checkNoSecret(t *testing.T, r *rendered) {
	t.Helper()
	if r.secrets != 0 {
		t.Errorf("the manifests contain %d Secret(s); ghostwire stores no secret", r.secrets)
	}
	// Secret volumes may only mount what cert-manager issues.
	issued := map[string]bool{}
	for _, c := range r.certificates {
		issued[c.Spec.SecretName] = true
		if c.Spec.IssuerRef.Name == "" || len(c.Spec.DNSNames) == 0 {
			t.Errorf("Certificate %s lacks an issuer or DNS names", c.Metadata.Name)
		}
	}
	for _, d := range r.workloads() {
		for _, vol := range d.Template.Spec.Volumes {
			if vol.Secret != nil && !issued[vol.Secret.SecretName] {
				t.Errorf("volume %s mounts Secret %s, which no Certificate in the manifests issues", vol.Name, vol.Secret.SecretName)
			}
		}
	}
}

// serverConfig rebuilds the server's configuration exactly as the pod would:
// defaults, then its environment (ConfigMap and env), through the server's own
// flag set. Every variable must be a flag; with validate, the result must
// pass the server's own validation.
func serverConfig(t *testing.T, r *rendered, d *workload, validate bool) *config.Config {
	t.Helper()
	c := container(t, d, serverCont)
	env := map[string]string{}
	for _, from := range c.EnvFrom {
		if from.ConfigMapRef == nil || from.Prefix != "" {
			t.Fatalf("envFrom %+v: only whole ConfigMaps are expected", from)
		}
		cm := configMap(t, r, from.ConfigMapRef.Name)
		for k, v := range cm.Data {
			env[k] = v
		}
		if len(cm.BinaryData) > 0 {
			t.Errorf("ConfigMap %s has binaryData", cm.Name)
		}
	}
	for _, e := range c.Env {
		if e.ValueFrom != nil {
			t.Errorf("env %s comes from %v; keep settings in the ConfigMap", e.Name, e.ValueFrom)
		}
		env[e.Name] = e.Value
	}
	cfg := config.Default()
	fs := cfg.Flags()
	known := map[string]bool{}
	for _, name := range flagNames(fs) {
		known[config.EnvName(name)] = true
	}
	for k := range env {
		if !known[k] {
			t.Errorf("the Deployment sets %s, which is not a ghostwire-server flag (ghostwire-server --help)", k)
		}
	}
	if err := config.ApplyEnv(fs, func(k string) (string, bool) { v, ok := env[k]; return v, ok }); err != nil {
		t.Fatalf("the server would reject its environment: %v", err)
	}
	if d.Kind == "StatefulSet" && cfg.ReplicaName == "" {
		cfg.ReplicaName = d.Name + "-0" // a pod's host name is its name
	}
	if validate {
		if err := cfg.Validate(); err != nil {
			t.Fatalf("the server would refuse to start with this configuration:\n%v", err)
		}
	}
	return &cfg
}

func configMap(t *testing.T, r *rendered, name string) *corev1.ConfigMap {
	t.Helper()
	for _, cm := range r.configMaps {
		if cm.Name == name {
			return cm
		}
	}
	t.Fatalf("ConfigMap %s is referenced but not rendered", name)
	return nil
}

func container(t *testing.T, d *workload, name string) *corev1.Container {
	t.Helper()
	for i := range d.Template.Spec.Containers {
		if c := &d.Template.Spec.Containers[i]; c.Name == name {
			return c
		}
	}
	t.Fatalf("%s %s has no container %q", d.Kind, d.Name, name)
	return nil
}

// checkPod: every container drops everything, cannot escalate, has a
// read-only root and resource bounds; only the server adds a capability, and
// only NET_ADMIN. Host access is limited to the TUN device.
func checkPod(t *testing.T, d *workload) {
	t.Helper()
	spec := d.Template.Spec
	if spec.HostNetwork || spec.HostPID || spec.HostIPC {
		t.Error("the pod shares a host namespace")
	}
	if sc := spec.SecurityContext; sc == nil || sc.SeccompProfile == nil || sc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Error("the pod's seccomp profile is not RuntimeDefault")
	}
	if sc := spec.SecurityContext; sc != nil {
		for _, s := range sc.Sysctls {
			if s.Name != "net.ipv4.ip_forward" || s.Value != "1" {
				t.Errorf("unexpected sysctl %s=%s", s.Name, s.Value)
			}
		}
	}
	if a := d.Template.Annotations["kubectl.kubernetes.io/default-container"]; a != serverCont {
		t.Errorf("default container is %q, want %q", a, serverCont)
	}
	if len(spec.InitContainers) > 0 {
		t.Error("init containers are not expected (the server needs no setup step)")
	}
	for _, c := range spec.Containers {
		sc := c.SecurityContext
		if sc == nil || sc.Capabilities == nil {
			t.Errorf("container %s has no security context with capabilities", c.Name)
			continue
		}
		if !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) {
			t.Errorf("container %s drops %v, want [ALL]", c.Name, sc.Capabilities.Drop)
		}
		wantAdd := []corev1.Capability(nil)
		if c.Name == serverCont {
			wantAdd = []corev1.Capability{"NET_ADMIN"}
		}
		if !slices.Equal(sc.Capabilities.Add, wantAdd) {
			t.Errorf("container %s adds %v, want %v", c.Name, sc.Capabilities.Add, wantAdd)
		}
		if sc.Privileged != nil && *sc.Privileged {
			t.Errorf("container %s is privileged", c.Name)
		}
		if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
			t.Errorf("container %s may escalate privileges", c.Name)
		}
		if sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
			t.Errorf("container %s has a writable root filesystem", c.Name)
		}
		if c.Name != serverCont && (sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot) {
			t.Errorf("container %s needs no capability, so it must run as non-root", c.Name)
		}
		for _, res := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
			if _, ok := c.Resources.Requests[res]; !ok {
				t.Errorf("container %s has no %s request", c.Name, res)
			}
			if _, ok := c.Resources.Limits[res]; !ok {
				t.Errorf("container %s has no %s limit", c.Name, res)
			}
		}
		if c.LivenessProbe == nil || c.ReadinessProbe == nil {
			t.Errorf("container %s lacks a liveness or readiness probe", c.Name)
		}
	}
	for _, vol := range spec.Volumes {
		if hp := vol.HostPath; hp != nil {
			if hp.Path != tunDevicePath || hp.Type == nil || *hp.Type != corev1.HostPathCharDev {
				t.Errorf("hostPath volume %s (%s) is not the TUN character device", vol.Name, hp.Path)
			}
		}
	}
}

func checkServerContainer(t *testing.T, d *workload, cfg *config.Config) {
	t.Helper()
	c := container(t, d, serverCont)
	def := config.Default()
	if cfg.ListenPort != def.ListenPort || portOf(t, cfg.Listen) != portOf(t, def.Listen) {
		t.Errorf("the manifests move the server off its default ports (UDP %d, API %s): keep them, or change both",
			def.ListenPort, def.Listen)
	}
	wg := containerPort(t, c, "wireguard")
	if wg.Protocol != corev1.ProtocolUDP || int(wg.ContainerPort) != cfg.ListenPort {
		t.Errorf("container port wireguard is %s/%d, the server listens on UDP %d", wg.Protocol, wg.ContainerPort, cfg.ListenPort)
	}
	if https := containerPort(t, c, "https"); https.ContainerPort != portOf(t, cfg.Listen) {
		t.Errorf("container port https is %d, the server's API listens on %s", https.ContainerPort, cfg.Listen)
	}
	ops := containerPort(t, c, "ops")
	if ops.ContainerPort != portOf(t, cfg.OpsListen) {
		t.Errorf("container port ops is %d, the server's ops listener is %s", ops.ContainerPort, cfg.OpsListen)
	}
	for probe, want := range map[*corev1.Probe]string{c.LivenessProbe: "/healthz", c.ReadinessProbe: "/readyz"} {
		if probe == nil || probe.HTTPGet == nil || probe.HTTPGet.Path != want ||
			resolvePort(t, c, probe.HTTPGet.Port) != ops.ContainerPort {
			t.Errorf("probe %+v: want GET %s on the ops port %d", probe, want, ops.ContainerPort)
		}
	}
	ann := d.Template.Annotations
	if ann["prometheus.io/scrape"] != "true" || ann["prometheus.io/path"] != "/metrics" ||
		ann["prometheus.io/port"] != strconv.Itoa(int(ops.ContainerPort)) {
		t.Errorf("Prometheus annotations %v do not point at /metrics on the ops port", ann)
	}
	// TLS files come from the cert-manager volume, unless plain HTTP was chosen.
	if !cfg.InsecureHTTP {
		for _, f := range []string{cfg.TLSCert, cfg.TLSKey} {
			if !mounted(t, d, c, f, func(v corev1.Volume) bool { return v.Secret != nil }) {
				t.Errorf("TLS file %s is not in a mounted certificate volume", f)
			}
		}
	} else if !strings.HasPrefix(cfg.Listen, "127.0.0.1:") {
		t.Errorf("plain HTTP must stay on the pod's loopback, not %s", cfg.Listen)
	}
	// The read-only root needs a writable, memory-backed place for the UAPI socket.
	if !mounted(t, d, c, wgdev.UAPIDir+"/wg0.sock", func(v corev1.Volume) bool { return v.EmptyDir != nil }) {
		t.Errorf("%s is not an emptyDir (the userspace device's UAPI socket lives there)", wgdev.UAPIDir)
	}
	for _, o := range d.Template.Spec.Containers {
		if o.Name == "dev-idp" {
			checkDevIdP(t, &o, cfg)
		}
	}
}

func checkDevIdP(t *testing.T, c *corev1.Container, cfg *config.Config) {
	t.Helper()
	if len(c.Args) == 0 || c.Args[0] != "dev-idp" {
		t.Fatalf("dev-idp container args %v do not start with the dev-idp command", c.Args)
	}
	cmd := devidp.Command()
	if err := cmd.ParseFlags(c.Args[1:]); err != nil {
		t.Fatalf("ghostwire-server dev-idp would reject %v: %v", c.Args[1:], err)
	}
	listen := cmd.Flags().Lookup("listen").Value.String()
	if "http://"+listen != cfg.Issuer {
		t.Errorf("the server trusts issuer %s but the provider serves http://%s", cfg.Issuer, listen)
	}
	if !strings.HasPrefix(listen, "127.0.0.1:") {
		t.Errorf("the development provider (no passwords) listens on %s, not loopback", listen)
	}
	if a := cmd.Flags().Lookup("audience").Value.String(); a != cfg.Audience {
		t.Errorf("provider audience %s, server expects %s", a, cfg.Audience)
	}
	if id := cmd.Flags().Lookup("client-id").Value.String(); id != cfg.ClientID {
		t.Errorf("provider client id %s, server announces %s", id, cfg.ClientID)
	}
}

func mounted(t *testing.T, d *workload, c *corev1.Container, file string, kind func(corev1.Volume) bool) bool {
	t.Helper()
	for _, m := range c.VolumeMounts {
		if !strings.HasPrefix(file, strings.TrimSuffix(m.MountPath, "/")+"/") {
			continue
		}
		for _, v := range d.Template.Spec.Volumes {
			if v.Name == m.Name && kind(v) {
				return true
			}
		}
	}
	return false
}

// checkRBAC: the server may get and watch its own Service and nothing else;
// namespaces only when namespace search is on.
func checkRBAC(t *testing.T, r *rendered, d *workload, cfg *config.Config) {
	t.Helper()
	sa := d.Template.Spec.ServiceAccountName
	role := one(t, r.roles, "Role")
	var names []string
	svcs := wireGuardServices(cfg, d)
	for i := 0; i < len(svcs); i++ {
		names = append(names, svcs[i])
	}
	want := []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"services"},
		ResourceNames: names, Verbs: []string{"get", "watch"}}}
	if cfg.KubeHA {
		// The shared records, in the server's own namespace, and nothing else.
		want = append(want,
			rbacv1.PolicyRule{APIGroups: []string{"ghostwire.io"}, Resources: []string{"peers"}, Verbs: []string{"get", "list", "watch", "create", "patch", "delete"}},
			rbacv1.PolicyRule{APIGroups: []string{"ghostwire.io"}, Resources: []string{"addresses", "replicas"}, Verbs: []string{"get", "list", "watch", "create", "update", "delete"}})
	}
	if len(role.Rules) != len(want) {
		t.Errorf("Role %s rules %+v, want only %+v", role.Name, role.Rules, want)
	}
	for i := range want {
		if i < len(role.Rules) && !equalRule(role.Rules[i], want[i]) {
			t.Errorf("Role %s rule %d is %+v, want %+v", role.Name, i, role.Rules[i], want[i])
		}
	}
	rb := one(t, r.roleBindings, "RoleBinding")
	checkBinding(t, rb.Name, rb.RoleRef, rb.Subjects, "Role", role.Name, sa)

	if !cfg.KubeNSSearch {
		if len(r.clusterRoles)+len(r.clusterBinds) > 0 {
			t.Error("cluster-wide permissions without namespace search: they are opt-in")
		}
		return
	}
	cr := one(t, r.clusterRoles, "ClusterRole")
	wantNS := rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"namespaces"}, Verbs: []string{"list", "watch"}}
	if len(cr.Rules) != 1 || !equalRule(cr.Rules[0], wantNS) {
		t.Errorf("ClusterRole %s rules %+v, want only %+v", cr.Name, cr.Rules, wantNS)
	}
	crb := one(t, r.clusterBinds, "ClusterRoleBinding")
	checkBinding(t, crb.Name, crb.RoleRef, crb.Subjects, "ClusterRole", cr.Name, sa)
}

func equalRule(a, b rbacv1.PolicyRule) bool {
	return slices.Equal(a.APIGroups, b.APIGroups) && slices.Equal(a.Resources, b.Resources) &&
		slices.Equal(a.ResourceNames, b.ResourceNames) && slices.Equal(a.Verbs, b.Verbs) && len(a.NonResourceURLs) == 0
}

func checkBinding(t *testing.T, name string, ref rbacv1.RoleRef, subjects []rbacv1.Subject, kind, role, sa string) {
	t.Helper()
	if ref.Kind != kind || ref.Name != role || len(subjects) != 1 ||
		subjects[0].Kind != "ServiceAccount" || subjects[0].Name != sa || subjects[0].Namespace != namespace {
		t.Errorf("%s binds %+v to %+v, want %s %s to ServiceAccount %s/%s", name, ref, subjects, kind, role, namespace, sa)
	}
}

func checkPDB(t *testing.T, r *rendered, d *workload) {
	t.Helper()
	p := one(t, r.pdbs, "PodDisruptionBudget")
	sel := labels.SelectorFromSet(p.Spec.Selector.MatchLabels)
	if !sel.Matches(labels.Set(d.Template.Labels)) {
		t.Errorf("PodDisruptionBudget %s does not select the server pod", p.Name)
	}
}

func flagNames(fs interface {
	VisitAll(func(*pflag.Flag))
}) []string {
	var names []string
	fs.VisitAll(func(f *pflag.Flag) { names = append(names, f.Name) })
	return names
}
