package deploy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"
)

// variant is one way to deploy: a kustomization directory, optionally with
// extra components on top (how an operator enables them).
type variant struct {
	dir        string
	components []string
}

func (v variant) String() string {
	if len(v.components) == 0 {
		return v.dir
	}
	names := make([]string, len(v.components))
	for i, c := range v.components {
		names[i] = path.Base(c)
	}
	return v.dir + "+" + strings.Join(names, "+")
}

// variants is every overlay, the base, and each component in use.
var variants = []variant{
	{dir: "base"},
	{dir: "overlays/aks"},
	{dir: "overlays/aks", components: []string{"components/aks-internal-lb", "components/namespace-search", "components/network-policy"}},
	{dir: "overlays/aks", components: []string{"components/ip-forward-sysctl", "components/userspace-tun"}},
	{dir: "overlays/dev"},
	{dir: "overlays/dev", components: []string{"components/namespace-search", "components/ip-forward-sysctl", "components/network-policy"}},
}

// rendered is what kubectl apply -k would send, decoded into typed objects.
type rendered struct {
	deployments  []*appsv1.Deployment
	services     []*corev1.Service
	configMaps   []*corev1.ConfigMap
	namespaces   []*corev1.Namespace
	accounts     []*corev1.ServiceAccount
	roles        []*rbacv1.Role
	roleBindings []*rbacv1.RoleBinding
	clusterRoles []*rbacv1.ClusterRole
	clusterBinds []*rbacv1.ClusterRoleBinding
	ingresses    []*networkingv1.Ingress
	netpols      []*networkingv1.NetworkPolicy
	pdbs         []*policyv1.PodDisruptionBudget
	certificates []*certificate
	issuers      []*issuer
	secrets      int
	kinds        []string // kind/name of every object, for messages
}

// render builds v with krusty (the kustomize API kubectl uses) and decodes
// every object strictly: an unknown or duplicated field fails the test.
func render(t *testing.T, v variant) *rendered {
	t.Helper()
	fsys := filesys.MakeFsInMemory()
	if err := copyTree(fsys, "."); err != nil {
		t.Fatal(err)
	}
	target := "/deploy/" + v.dir
	if len(v.components) > 0 {
		target = "/deploy/variant"
		var b strings.Builder
		fmt.Fprintf(&b, "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - ../%s\ncomponents:\n", v.dir)
		for _, c := range v.components {
			fmt.Fprintf(&b, "  - ../%s\n", c)
		}
		if err := fsys.WriteFile(target+"/kustomization.yaml", []byte(b.String())); err != nil {
			t.Fatal(err)
		}
	}
	k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
	m, err := k.Run(fsys, target)
	if err != nil {
		t.Fatalf("kustomize build %s: %v", v, err)
	}
	codecs := serializer.NewCodecFactory(scheme.Scheme, serializer.EnableStrict)
	decoder := codecs.UniversalDeserializer()
	out := &rendered{}
	for _, r := range m.Resources() {
		y, err := r.AsYAML()
		if err != nil {
			t.Fatal(err)
		}
		kind := r.GetKind()
		out.kinds = append(out.kinds, kind+"/"+r.GetName())
		if r.GetApiVersion() == "cert-manager.io/v1" {
			out.decodeCertManager(t, kind, y)
			continue
		}
		obj, _, err := decoder.Decode(y, nil, nil)
		if err != nil {
			t.Fatalf("%s: %s/%s does not decode strictly into Kubernetes types: %v", v, kind, r.GetName(), err)
		}
		out.add(t, obj)
	}
	return out
}

func (r *rendered) add(t *testing.T, obj runtime.Object) {
	t.Helper()
	switch o := obj.(type) {
	case *appsv1.Deployment:
		r.deployments = append(r.deployments, o)
	case *corev1.Service:
		r.services = append(r.services, o)
	case *corev1.ConfigMap:
		r.configMaps = append(r.configMaps, o)
	case *corev1.Namespace:
		r.namespaces = append(r.namespaces, o)
	case *corev1.ServiceAccount:
		r.accounts = append(r.accounts, o)
	case *corev1.Secret:
		r.secrets++
	case *rbacv1.Role:
		r.roles = append(r.roles, o)
	case *rbacv1.RoleBinding:
		r.roleBindings = append(r.roleBindings, o)
	case *rbacv1.ClusterRole:
		r.clusterRoles = append(r.clusterRoles, o)
	case *rbacv1.ClusterRoleBinding:
		r.clusterBinds = append(r.clusterBinds, o)
	case *networkingv1.Ingress:
		r.ingresses = append(r.ingresses, o)
	case *networkingv1.NetworkPolicy:
		r.netpols = append(r.netpols, o)
	case *policyv1.PodDisruptionBudget:
		r.pdbs = append(r.pdbs, o)
	default:
		t.Fatalf("unexpected object %T: add it to the policy checks", obj)
	}
}

// The cert-manager kinds are not in k8s.io/api. These types are the subset of
// cert-manager.io/v1 the manifests use, decoded just as strictly, so a typo
// still fails here rather than in the cluster.
type certificate struct {
	metav1.TypeMeta `json:",inline"`
	Metadata        metav1.ObjectMeta `json:"metadata"`
	Spec            struct {
		SecretName  string `json:"secretName"`
		Duration    string `json:"duration,omitempty"`
		RenewBefore string `json:"renewBefore,omitempty"`
		PrivateKey  *struct {
			Algorithm      string `json:"algorithm,omitempty"`
			Size           int    `json:"size,omitempty"`
			RotationPolicy string `json:"rotationPolicy,omitempty"`
		} `json:"privateKey,omitempty"`
		DNSNames  []string `json:"dnsNames"`
		IssuerRef struct {
			Kind  string `json:"kind,omitempty"`
			Name  string `json:"name"`
			Group string `json:"group,omitempty"`
		} `json:"issuerRef"`
	} `json:"spec"`
}

type issuer struct {
	metav1.TypeMeta `json:",inline"`
	Metadata        metav1.ObjectMeta `json:"metadata"`
	Spec            struct {
		SelfSigned *struct{} `json:"selfSigned,omitempty"`
	} `json:"spec"`
}

func (r *rendered) decodeCertManager(t *testing.T, kind string, y []byte) {
	t.Helper()
	var dst any
	switch kind {
	case "Certificate":
		c := &certificate{}
		r.certificates, dst = append(r.certificates, c), c
	case "Issuer":
		i := &issuer{}
		r.issuers, dst = append(r.issuers, i), i
	default:
		t.Fatalf("unexpected cert-manager kind %s", kind)
	}
	j, err := yaml.YAMLToJSON(y)
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(j))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		t.Fatalf("cert-manager %s does not decode strictly: %v", kind, err)
	}
}

// copyTree copies the manifests (every YAML file under dir) into fsys at /deploy.
func copyTree(fsys filesys.FileSystem, dir string) error {
	return filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".yaml") {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return fsys.WriteFile(path.Join("/deploy", filepath.ToSlash(p)), b)
	})
}

func TestRenderEveryVariant(t *testing.T) {
	for _, v := range variants {
		t.Run(v.String(), func(t *testing.T) {
			r := render(t, v)
			if len(r.deployments) == 0 {
				t.Fatalf("nothing rendered: %v", r.kinds)
			}
			if os.Getenv("GHOSTWIRE_DEPLOY_DUMP") != "" {
				t.Log(strings.Join(r.kinds, "\n"))
			}
		})
	}
}
