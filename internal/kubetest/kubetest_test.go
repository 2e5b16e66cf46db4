package kubetest

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

func TestMain(m *testing.M) { Main(m) }

// The harness itself: a real API server answers, serves the CRDs, and a
// ServiceAccount bound by the rendered Role can do exactly what the Role says.
func TestHAServerAccountHasTheRoleOnly(t *testing.T) {
	s := Shared(t)
	ns := s.Namespace(t, "kt")
	cfg := s.ServerAccount(t, ns)
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	// Allowed: its own WireGuard Services by name (get).
	if _, err := cs.CoreV1().Services(ns).Get(ctx, "ghostwire-wireguard-0", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("get Service ghostwire-wireguard-0: want NotFound (allowed, absent), got %v", err)
	}
	// Refused: everything else.
	for what, call := range map[string]func() error{
		"list configmaps": func() error { _, err := cs.CoreV1().ConfigMaps(ns).List(ctx, metav1.ListOptions{}); return err },
		"get a secret":    func() error { _, err := cs.CoreV1().Secrets(ns).Get(ctx, "x", metav1.GetOptions{}); return err },
		"list services":   func() error { _, err := cs.CoreV1().Services(ns).List(ctx, metav1.ListOptions{}); return err },
		"get another service": func() error {
			_, err := cs.CoreV1().Services(ns).Get(ctx, "kubernetes", metav1.GetOptions{})
			return err
		},
		"list pods": func() error { _, err := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{}); return err },
		"services in default": func() error {
			_, err := cs.CoreV1().Services("default").Get(ctx, "ghostwire-wireguard-0", metav1.GetOptions{})
			return err
		},
		"create a configmap": func() error {
			_, err := cs.CoreV1().ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "x"}}, metav1.CreateOptions{})
			return err
		},
		"peers in another ns": func() error {
			return cs.RESTClient().Get().AbsPath("/apis/ghostwire.io/v1alpha1/namespaces/default/peers").Do(ctx).Error()
		},
		"peers in all namespaces": func() error {
			return cs.RESTClient().Get().AbsPath("/apis/ghostwire.io/v1alpha1/peers").Do(ctx).Error()
		},
	} {
		if err := call(); !apierrors.IsForbidden(err) {
			t.Errorf("%s: want Forbidden, got %v", what, err)
		}
	}
	// Allowed: the shared records in its own namespace.
	if err := cs.RESTClient().Get().AbsPath("/apis/ghostwire.io/v1alpha1/namespaces/" + ns + "/peers").Do(ctx).Error(); err != nil {
		t.Errorf("list peers in its namespace: %v", err)
	}
}
