package deploy

import (
	"bytes"
	"encoding/json"
	"os"
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
	"sigs.k8s.io/yaml"
)

// variants is every overlay, the base, and each component in use: layered
// on top of an overlay, and (for ha) added inside a copy of it, as an operator
// does who edits the overlay.
var variants = []Variant{
	{Dir: "base"},
	{Dir: "overlays/aks"},
	{Dir: "overlays/aks", Components: []string{"components/aks-internal-lb", "components/namespace-search", "components/network-policy"}},
	{Dir: "overlays/aks", Components: []string{"components/ip-forward-sysctl", "components/userspace-tun"}},
	{Dir: "overlays/dev"},
	{Dir: "overlays/dev", Components: []string{"components/namespace-search", "components/ip-forward-sysctl", "components/network-policy"}},
	{Dir: "base", Components: []string{"components/ha"}},
	{Dir: "overlays/aks", Inside: []string{"components/ha"}},
	{Dir: "overlays/aks", Inside: []string{"components/ha", "components/aks-internal-lb", "components/namespace-search", "components/network-policy"}},
	{Dir: "overlays/aks", Inside: []string{"components/ha", "components/ip-forward-sysctl", "components/userspace-tun"}},
	// Components listed before ha patch the Deployment, which ha turns into
	// the StatefulSet: the result is the same.
	{Dir: "overlays/aks", Inside: []string{"components/ip-forward-sysctl", "components/userspace-tun", "components/ha"}},
}

// rendered is what kubectl apply -k would send, decoded into typed objects.
type rendered struct {
	deployments  []*appsv1.Deployment
	statefulsets []*appsv1.StatefulSet
	crds         []*crd
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
func render(t *testing.T, v Variant) *rendered {
	t.Helper()
	objs, err := v.Render()
	if err != nil {
		t.Fatal(err)
	}
	codecs := serializer.NewCodecFactory(scheme.Scheme, serializer.EnableStrict)
	decoder := codecs.UniversalDeserializer()
	out := &rendered{}
	for _, o := range objs {
		out.kinds = append(out.kinds, o.Kind+"/"+o.Name)
		switch o.APIVersion {
		case "cert-manager.io/v1":
			out.decodeCertManager(t, o.Kind, o.YAML)
			continue
		case "apiextensions.k8s.io/v1":
			c := &crd{}
			decodeStrict(t, o.Kind, o.YAML, c)
			out.crds = append(out.crds, c)
			continue
		}
		obj, _, err := decoder.Decode(o.YAML, nil, nil)
		if err != nil {
			t.Fatalf("%s: %s/%s does not decode strictly into Kubernetes types: %v", v, o.Kind, o.Name, err)
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
	case *appsv1.StatefulSet:
		r.statefulsets = append(r.statefulsets, o)
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
	decodeStrict(t, kind, y, dst)
}

// decodeStrict decodes y into dst, refusing unknown fields.
func decodeStrict(t *testing.T, kind string, y []byte, dst any) {
	t.Helper()
	j, err := yaml.YAMLToJSON(y)
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(j))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		t.Fatalf("%s does not decode strictly: %v", kind, err)
	}
}

// crd is the part of a CustomResourceDefinition the policy reads, decoded
// strictly down to the schema (which the API server itself validates in
// TestHAManifestsAcceptedByTheAPIServer).
type crd struct {
	metav1.TypeMeta `json:",inline"`
	Metadata        metav1.ObjectMeta `json:"metadata"`
	Spec            struct {
		Group string `json:"group"`
		Scope string `json:"scope"`
		Names struct {
			Kind       string   `json:"kind"`
			ListKind   string   `json:"listKind"`
			Plural     string   `json:"plural"`
			Singular   string   `json:"singular"`
			ShortNames []string `json:"shortNames"`
			Categories []string `json:"categories"`
		} `json:"names"`
		Versions []struct {
			Name                     string           `json:"name"`
			Served                   bool             `json:"served"`
			Storage                  bool             `json:"storage"`
			AdditionalPrinterColumns []map[string]any `json:"additionalPrinterColumns"`
			Schema                   map[string]any   `json:"schema"`
		} `json:"versions"`
	} `json:"spec"`
}

func TestRenderEveryVariant(t *testing.T) {
	for _, v := range variants {
		t.Run(v.String(), func(t *testing.T) {
			r := render(t, v)
			if len(r.deployments)+len(r.statefulsets) == 0 {
				t.Fatalf("nothing rendered: %v", r.kinds)
			}
			if os.Getenv("GHOSTWIRE_DEPLOY_DUMP") != "" {
				t.Log(strings.Join(r.kinds, "\n"))
			}
		})
	}
}
