package kubetest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	authnv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"k8s.io/klog/v2"
	"sigs.k8s.io/yaml"

	"github.com/ghostwire/ghostwire/deploy"
)

var shared struct {
	once sync.Once
	s    *Server
	dir  string
	err  error
}

// Shared returns the test binary's API server, started on first use (Main
// stops it). It fails t when the server cannot start.
func Shared(t testing.TB) *Server {
	t.Helper()
	Require(t)
	shared.once.Do(func() {
		shared.dir, shared.err = os.MkdirTemp("", "gw-kubetest-")
		if shared.err == nil {
			t0 := time.Now()
			shared.s, shared.err = Start(shared.dir)
			if shared.err == nil {
				fmt.Fprintf(os.Stderr, "kubetest: kube-apiserver %s and etcd up in %s (%s)\n", APIServerVersion, time.Since(t0).Round(100*time.Millisecond), shared.dir)
			}
		}
	})
	if shared.err != nil {
		t.Fatalf("starting a Kubernetes API server: %v", shared.err)
	}
	return shared.s
}

// Main runs the tests and then stops the shared server; call it from TestMain.
// client-go's own log lines (reflector warnings while a test stops the API
// server, say) are kept out of the test output unless GWT_HA_LOG is set.
func Main(m *testing.M) {
	if os.Getenv("GWT_HA_LOG") == "" {
		klog.LogToStderr(false)
		klog.SetOutput(io.Discard)
	}
	code := m.Run()
	if shared.s != nil {
		shared.s.Stop()
	}
	if shared.dir != "" && code == 0 {
		os.RemoveAll(shared.dir)
	} else if shared.dir != "" {
		fmt.Fprintf(os.Stderr, "kubetest: logs of the API server kept in %s\n", shared.dir)
	}
	os.Exit(code)
}

// Namespace creates a fresh namespace for one test (no controller manager
// runs here to finalize its deletion, so it is left behind with the run).
func (s *Server) Namespace(t testing.TB, prefix string) string {
	t.Helper()
	name := fmt.Sprintf("%s-%06x", prefix, rand.IntN(1<<24))
	_, err := s.Client.CoreV1().Namespaces().Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("creating namespace %s: %v", name, err)
	}
	return name
}

// EnsureNamespace creates namespace name unless it exists.
func (s *Server) EnsureNamespace(name string) error {
	_, err := s.Client.CoreV1().Namespaces().Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		return nil
	}
	return err
}

// InstallCRDs applies the ha component's CustomResourceDefinitions (once per
// server) and waits until the API serves them.
func (s *Server) InstallCRDs(t testing.TB) {
	t.Helper()
	s.crds.Do(func() { s.crdErr = s.installCRDs() })
	if s.crdErr != nil {
		t.Fatalf("installing the CRDs: %v", s.crdErr)
	}
}

func (s *Server) installCRDs() error {
	rc := s.Client.CoreV1().RESTClient()
	ctx := context.Background()
	dec := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(deploy.CRDs())))
	var names []string
	for {
		doc, err := dec.Read()
		if err != nil {
			break
		}
		j, err := yaml.YAMLToJSON(doc)
		if err != nil {
			return err
		}
		var meta struct {
			Metadata struct{ Name string } `json:"metadata"`
		}
		if err := json.Unmarshal(j, &meta); err != nil || meta.Metadata.Name == "" {
			continue
		}
		names = append(names, meta.Metadata.Name)
		err = rc.Post().AbsPath("/apis/apiextensions.k8s.io/v1/customresourcedefinitions").
			SetHeader("Content-Type", "application/json").Body(j).Do(ctx).Error()
		if err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("creating CRD %s: %w", meta.Metadata.Name, err)
		}
	}
	deadline := time.Now().Add(30 * time.Second)
	for _, n := range names {
		for {
			raw, err := rc.Get().AbsPath("/apis/apiextensions.k8s.io/v1/customresourcedefinitions/" + n).DoRaw(ctx)
			if err == nil && established(raw) {
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("CRD %s not established after 30 s (%v)", n, err)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	// Discovery of the new group takes a moment more.
	for {
		if _, err := rc.Get().AbsPath("/apis/ghostwire.io/v1alpha1").DoRaw(ctx); err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the API does not serve ghostwire.io/v1alpha1 after 30 s")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func established(raw []byte) bool {
	var crd struct {
		Status struct {
			Conditions []struct{ Type, Status string } `json:"conditions"`
		} `json:"status"`
	}
	if json.Unmarshal(raw, &crd) != nil {
		return false
	}
	for _, c := range crd.Status.Conditions {
		if c.Type == "Established" && c.Status == "True" {
			return true
		}
	}
	return false
}

// ServerAccount gives namespace ns what the ha manifests give the server
// (its ServiceAccount, Role and RoleBinding, exactly as rendered from
// overlays/aks with components/ha, moved to ns) and returns a client
// configuration authenticated as that ServiceAccount with a real token from
// the TokenRequest API: the server under test has no permission more.
func (s *Server) ServerAccount(t testing.TB, ns string) *rest.Config {
	t.Helper()
	s.InstallCRDs(t)
	objs, err := deploy.Variant{Dir: "overlays/aks", Inside: []string{"components/ha"}}.Render()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	dec := scheme.Codecs.UniversalDeserializer()
	var sa string
	for _, o := range objs {
		switch o.Kind {
		case "ServiceAccount", "Role", "RoleBinding":
		default:
			continue
		}
		obj, _, err := dec.Decode(o.YAML, nil, nil)
		if err != nil {
			t.Fatalf("decoding %s/%s: %v", o.Kind, o.Name, err)
		}
		switch x := obj.(type) {
		case *corev1.ServiceAccount:
			x.Namespace, sa = ns, x.Name
			_, err = s.Client.CoreV1().ServiceAccounts(ns).Create(ctx, x, metav1.CreateOptions{})
		case *rbacv1.Role:
			x.Namespace = ns
			_, err = s.Client.RbacV1().Roles(ns).Create(ctx, x, metav1.CreateOptions{})
		case *rbacv1.RoleBinding:
			x.Namespace = ns
			for i := range x.Subjects {
				x.Subjects[i].Namespace = ns
			}
			_, err = s.Client.RbacV1().RoleBindings(ns).Create(ctx, x, metav1.CreateOptions{})
		}
		if err != nil {
			t.Fatalf("creating %s/%s in %s: %v", o.Kind, o.Name, ns, err)
		}
	}
	if sa == "" {
		t.Fatal("the ha manifests render no ServiceAccount")
	}
	exp := int64(3600)
	tr, err := s.Client.CoreV1().ServiceAccounts(ns).CreateToken(ctx, sa,
		&authnv1.TokenRequest{Spec: authnv1.TokenRequestSpec{ExpirationSeconds: &exp}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("requesting a token for %s/%s: %v", ns, sa, err)
	}
	return &rest.Config{Host: s.URL, BearerToken: tr.Status.Token, TLSClientConfig: rest.TLSClientConfig{CAFile: s.caFile}, Dial: s.o.Dial}
}

// WriteKubeconfig writes cfg as a kubeconfig file (for a server process's
// --kubeconfig) and returns its path.
func WriteKubeconfig(t testing.TB, cfg *rest.Config, ns string) string {
	t.Helper()
	kc := clientcmdapi.NewConfig()
	kc.Clusters["test"] = &clientcmdapi.Cluster{Server: cfg.Host, CertificateAuthority: cfg.CAFile}
	kc.AuthInfos["test"] = &clientcmdapi.AuthInfo{Token: cfg.BearerToken}
	kc.Contexts["test"] = &clientcmdapi.Context{Cluster: "test", AuthInfo: "test", Namespace: ns}
	kc.CurrentContext = "test"
	p := filepath.Join(t.TempDir(), "kubeconfig")
	if err := clientcmd.WriteToFile(*kc, p); err != nil {
		t.Fatal(err)
	}
	return p
}
