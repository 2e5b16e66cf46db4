package kube

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	listerv1 "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
)

// ErrNamespacesForbidden is wrapped when the service account may not list
// namespaces. It is a normal configuration (the ClusterRole is opt-in): the
// server then pushes only its configured search domains.
var ErrNamespacesForbidden = errors.New("not allowed to list namespaces")

// SearchDomainOptions configure WatchSearchDomains.
type SearchDomainOptions struct {
	// ClusterDomain is the cluster's DNS suffix; empty means "cluster.local".
	ClusterDomain string
	// Logger; nil means slog.Default().
	Logger *slog.Logger
}

// SearchDomainWatcher keeps <namespace>.svc.<cluster domain> for every
// namespace, so a short name like "prometheus" resolves whatever namespace the
// service lives in.
type SearchDomainWatcher struct {
	lister  listerv1.NamespaceLister
	factory informers.SharedInformerFactory
	suffix  string
	log     *slog.Logger

	// dirty is set by every namespace event; the list is rebuilt on the next
	// read, so a burst of events (thousands at start) costs one rebuild.
	dirty   atomic.Bool
	mu      sync.RWMutex
	domains []string
}

// WatchSearchDomains lists namespaces once (so a missing permission is reported
// here, as an error wrapping ErrNamespacesForbidden, and the server can fall
// back to its configured list) and then keeps the list current with an
// informer until ctx ends. It needs list and watch on namespaces.
func WatchSearchDomains(ctx context.Context, client kubernetes.Interface, opts SearchDomainOptions) (*SearchDomainWatcher, error) {
	if client == nil {
		return nil, errors.New("kube: WatchSearchDomains needs a Kubernetes client")
	}
	domain := strings.Trim(opts.ClusterDomain, ".")
	if domain == "" {
		domain = "cluster.local"
	}
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	// One cheap probe for a clear answer: an informer would retry a forbidden
	// list forever and only log it.
	if _, err := client.CoreV1().Namespaces().List(ctx, metav1.ListOptions{Limit: 1}); err != nil {
		if apierrors.IsForbidden(err) || apierrors.IsUnauthorized(err) {
			return nil, fmt.Errorf("%w (%v): only the configured search domains are pushed to clients; "+
				"to add <namespace>.svc.%s for every namespace, apply the namespace-search component from deploy/components",
				ErrNamespacesForbidden, err, domain)
		}
		return nil, fmt.Errorf("cannot list namespaces from the Kubernetes API: %w", err)
	}

	factory := informers.NewSharedInformerFactory(client, 0)
	nsInformer := factory.Core().V1().Namespaces()
	w := &SearchDomainWatcher{
		lister:  nsInformer.Lister(),
		factory: factory,
		suffix:  ".svc." + domain,
		log:     log,
	}
	changed := func(any) { w.dirty.Store(true) }
	if _, err := nsInformer.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    changed,
		UpdateFunc: func(_, n any) { changed(n) },
		DeleteFunc: changed,
	}); err != nil {
		return nil, fmt.Errorf("watch namespaces: %w", err)
	}
	factory.Start(ctx.Done())
	for typ, ok := range factory.WaitForCacheSync(ctx.Done()) {
		if !ok {
			factory.Shutdown()
			return nil, fmt.Errorf("namespaces (%v) were not read before the server stopped: %w", typ, ctx.Err())
		}
	}
	w.recompute()
	return w, nil
}

// SearchDomains returns the current list, sorted; the caller owns the slice.
func (w *SearchDomainWatcher) SearchDomains() []string {
	if w.dirty.Swap(false) {
		w.recompute()
	}
	w.mu.RLock()
	defer w.mu.RUnlock()
	return slices.Clone(w.domains)
}

// Wait blocks until the informer has stopped after the context ended.
func (w *SearchDomainWatcher) Wait() { w.factory.Shutdown() }

// recompute rebuilds the list from the informer's cache; namespaces being
// deleted are left out, their services are going away.
func (w *SearchDomainWatcher) recompute() {
	nss, err := w.lister.List(labels.Everything())
	if err != nil { // the cache lister does not fail; keep the last list if it ever does
		w.log.Warn("reading namespaces from the cache failed; keeping the last search domains", "error", err)
		return
	}
	domains := make([]string, 0, len(nss))
	for _, ns := range nss {
		if ns.DeletionTimestamp == nil && ns.Status.Phase != corev1.NamespaceTerminating {
			domains = append(domains, ns.Name+w.suffix)
		}
	}
	slices.Sort(domains)
	w.mu.Lock()
	changed := !slices.Equal(domains, w.domains)
	w.domains = domains
	w.mu.Unlock()
	if changed {
		w.log.Info("search domains from namespaces", "count", len(domains))
	}
}
