package kube

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
)

func namespace(name string) *corev1.Namespace {
	return &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
}

func startSearchDomains(t *testing.T, client *fake.Clientset, domain string) *SearchDomainWatcher {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	w, err := WatchSearchDomains(ctx, client, SearchDomainOptions{ClusterDomain: domain, Logger: quietLogger()})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); w.Wait() })
	return w
}

func waitDomains(t *testing.T, w *SearchDomainWatcher, want ...string) {
	t.Helper()
	waitFor(t, strings.Join(want, ","), func() (bool, string) {
		got := w.SearchDomains()
		return slices.Equal(got, want), strings.Join(got, ",")
	})
}

func TestSearchDomainsFollowNamespaces(t *testing.T) {
	client := fake.NewClientset(namespace("monitoring"), namespace("default"), namespace("shop"))
	w := startSearchDomains(t, client, "")
	// Ready at return: no waiting needed for the first list.
	if got, want := w.SearchDomains(), []string{
		"default.svc.cluster.local", "monitoring.svc.cluster.local", "shop.svc.cluster.local",
	}; !slices.Equal(got, want) {
		t.Fatalf("SearchDomains() = %v, want %v", got, want)
	}

	nss := client.CoreV1().Namespaces()
	ctx := context.Background()
	if _, err := nss.Create(ctx, namespace("billing"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitDomains(t, w, "billing.svc.cluster.local", "default.svc.cluster.local",
		"monitoring.svc.cluster.local", "shop.svc.cluster.local")

	if err := nss.Delete(ctx, "shop", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitDomains(t, w, "billing.svc.cluster.local", "default.svc.cluster.local", "monitoring.svc.cluster.local")

	// A namespace being deleted is dropped before it is gone.
	term := namespace("monitoring")
	term.Status.Phase = corev1.NamespaceTerminating
	if _, err := nss.Update(ctx, term, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitDomains(t, w, "billing.svc.cluster.local", "default.svc.cluster.local")

	// The caller owns what it gets.
	got := w.SearchDomains()
	got[0] = "mutated"
	if w.SearchDomains()[0] == "mutated" {
		t.Fatal("SearchDomains returned its internal slice")
	}
}

func TestSearchDomainsCustomClusterDomain(t *testing.T) {
	w := startSearchDomains(t, fake.NewClientset(namespace("default")), "corp.example.")
	waitDomains(t, w, "default.svc.corp.example")
}

func TestSearchDomainsForbidden(t *testing.T) {
	client := fake.NewClientset(namespace("default"))
	client.PrependReactor("list", "namespaces", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewForbidden(schema.GroupResource{Resource: "namespaces"}, "",
			errors.New(`User "system:serviceaccount:ghostwire:ghostwire-server" cannot list resource "namespaces" at the cluster scope`))
	})
	w, err := WatchSearchDomains(context.Background(), client, SearchDomainOptions{Logger: quietLogger()})
	if w != nil || !errors.Is(err, ErrNamespacesForbidden) {
		t.Fatalf("got %v, %v; want an error wrapping ErrNamespacesForbidden", w, err)
	}
	for _, part := range []string{"only the configured search domains", "namespace-search component"} {
		if !strings.Contains(err.Error(), part) {
			t.Fatalf("error %q does not say %q", err, part)
		}
	}
}

func TestSearchDomainsAPIDown(t *testing.T) {
	client := fake.NewClientset()
	client.PrependReactor("list", "namespaces", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewServiceUnavailable("etcd is down")
	})
	_, err := WatchSearchDomains(context.Background(), client, SearchDomainOptions{Logger: quietLogger()})
	if err == nil || errors.Is(err, ErrNamespacesForbidden) || !strings.Contains(err.Error(), "cannot list namespaces") {
		t.Fatalf("error = %v", err)
	}
}

// BenchmarkSearchDomains is the per-registration cost of the namespace search
// domains (the server calls SearchDomains for every POST /v1/peers), with 500
// namespaces.
func BenchmarkSearchDomains(b *testing.B) {
	client := fake.NewClientset()
	for i := range 500 {
		if _, err := client.CoreV1().Namespaces().Create(context.Background(),
			namespace(fmt.Sprintf("team-%03d", i)), metav1.CreateOptions{}); err != nil {
			b.Fatal(err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	w, err := WatchSearchDomains(ctx, client, SearchDomainOptions{Logger: quietLogger()})
	if err != nil {
		b.Fatal(err)
	}
	if n := len(w.SearchDomains()); n != 500 {
		b.Fatalf("%d domains, want 500", n)
	}
	b.ReportAllocs()
	for b.Loop() {
		_ = w.SearchDomains()
	}
}
