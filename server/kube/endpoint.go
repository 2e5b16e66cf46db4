package kube

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
)

// ErrNotReady is wrapped by every error Endpoint returns: the public endpoint is
// not known (yet). The server's /readyz shows the message, which says why.
var ErrNotReady = errors.New("WireGuard endpoint not ready")

// EndpointOptions say which Service carries the WireGuard UDP port.
type EndpointOptions struct {
	// Namespace and Service name the LoadBalancer Service (required).
	Namespace string
	Service   string
	// PortName picks the UDP port when the Service has several; empty means
	// the Service's only UDP port.
	PortName string
	// Logger receives one line per change of state; nil means slog.Default().
	Logger *slog.Logger
}

// EndpointWatcher keeps the public WireGuard endpoint (load balancer address and
// UDP port of the server's own Service) current. Its zero value is not usable:
// create it with WatchEndpoint.
type EndpointWatcher struct {
	client kubernetes.Interface
	opts   EndpointOptions
	log    *slog.Logger
	done   chan struct{}

	mu       sync.RWMutex
	endpoint string
	err      error
}

// retry bounds the pause after a failed API call.
const (
	retryMin = time.Second
	retryMax = 30 * time.Second
)

// WatchEndpoint starts watching the Service in the background until ctx ends.
// It needs get and watch on that one Service and nothing else.
func WatchEndpoint(ctx context.Context, client kubernetes.Interface, opts EndpointOptions) (*EndpointWatcher, error) {
	if client == nil {
		return nil, errors.New("kube: WatchEndpoint needs a Kubernetes client")
	}
	if opts.Namespace == "" || opts.Service == "" {
		return nil, errors.New("kube: the namespace and name of the WireGuard Service are both required")
	}
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	w := &EndpointWatcher{
		client: client,
		opts:   opts,
		log:    log.With("service", opts.Namespace+"/"+opts.Service),
		done:   make(chan struct{}),
		err:    fmt.Errorf("%w: still reading Service %s/%s from the Kubernetes API", ErrNotReady, opts.Namespace, opts.Service),
	}
	go w.run(ctx)
	return w, nil
}

// Endpoint returns host:port of the load balancer, or an error wrapping
// ErrNotReady that says what is missing and what to do.
func (w *EndpointWatcher) Endpoint() (string, error) {
	w.mu.RLock()
	defer w.mu.RUnlock()
	return w.endpoint, w.err
}

// Wait blocks until the watcher has stopped after its context ended.
func (w *EndpointWatcher) Wait() { <-w.done }

func (w *EndpointWatcher) set(endpoint string, err error) {
	w.mu.Lock()
	changed := endpoint != w.endpoint || errString(err) != errString(w.err)
	w.endpoint, w.err = endpoint, err
	w.mu.Unlock()
	if !changed {
		return
	}
	if err != nil {
		w.log.Warn("WireGuard endpoint not available", "reason", err.Error())
	} else {
		w.log.Info("WireGuard endpoint from the load balancer", "endpoint", endpoint)
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// run reads the Service, then follows it with a watch from that version; when
// the watch ends (the API server closes watches every few minutes) it reads
// again. Failures back off up to retryMax.
func (w *EndpointWatcher) run(ctx context.Context) {
	defer close(w.done)
	delay := retryMin
	for ctx.Err() == nil {
		rv, ok := w.read(ctx)
		if ok && w.follow(ctx, rv) {
			delay = retryMin
			continue
		}
		select {
		case <-ctx.Done():
		case <-time.After(delay):
		}
		delay = min(2*delay, retryMax)
	}
}

// read gets the Service once and records the result; it returns the Service's
// resourceVersion and whether the read worked.
func (w *EndpointWatcher) read(ctx context.Context) (string, bool) {
	svc, err := w.client.CoreV1().Services(w.opts.Namespace).Get(ctx, w.opts.Service, metav1.GetOptions{})
	if err != nil {
		if ctx.Err() == nil {
			w.set("", w.apiError("read", err))
		}
		return "", false
	}
	w.set(endpointOf(svc, w.opts.PortName))
	return svc.ResourceVersion, true
}

// follow applies watch events until the watch ends. It returns false when the
// watch could not start or ended with an error, so run backs off.
func (w *EndpointWatcher) follow(ctx context.Context, rv string) bool {
	wi, err := w.client.CoreV1().Services(w.opts.Namespace).Watch(ctx, metav1.ListOptions{
		// With resourceNames in the Role, a watch is only allowed for one name.
		FieldSelector:   fields.OneTermEqualSelector("metadata.name", w.opts.Service).String(),
		ResourceVersion: rv,
	})
	if err != nil {
		if ctx.Err() == nil {
			w.set("", w.apiError("watch", err))
		}
		return false
	}
	defer wi.Stop()
	started := time.Now()
	for {
		select {
		case <-ctx.Done():
			return true
		case ev, open := <-wi.ResultChan():
			if !open {
				// A watch that ends at once is a failure in disguise: back off.
				return time.Since(started) >= retryMin
			}
			switch ev.Type {
			case watch.Added, watch.Modified:
				if svc, ok := ev.Object.(*corev1.Service); ok && svc.Name == w.opts.Service {
					w.set(endpointOf(svc, w.opts.PortName))
				}
			case watch.Deleted:
				if svc, ok := ev.Object.(*corev1.Service); ok && svc.Name == w.opts.Service {
					w.set("", w.notFound())
				}
			case watch.Error:
				// Usually 410 Gone (our version is too old): read afresh.
				w.log.Debug("watch ended with an error; reading the Service again",
					"error", apierrors.FromObject(ev.Object).Error())
				return apierrors.IsGone(apierrors.FromObject(ev.Object)) ||
					apierrors.IsResourceExpired(apierrors.FromObject(ev.Object))
			}
		}
	}
}

func (w *EndpointWatcher) notFound() error {
	return fmt.Errorf("%w: Service %s/%s does not exist; apply the manifests (kubectl apply -k deploy/...) or set the endpoint explicitly",
		ErrNotReady, w.opts.Namespace, w.opts.Service)
}

// apiError turns an API failure into a sentence an operator can act on.
func (w *EndpointWatcher) apiError(verb string, err error) error {
	switch {
	case apierrors.IsNotFound(err):
		return w.notFound()
	case apierrors.IsForbidden(err), apierrors.IsUnauthorized(err):
		return fmt.Errorf("%w: the server's service account may not %s Service %s/%s (%v); "+
			"apply the Role and RoleBinding from deploy/base, or set the endpoint explicitly and remove them",
			ErrNotReady, verb, w.opts.Namespace, w.opts.Service, err)
	default:
		return fmt.Errorf("%w: cannot %s Service %s/%s from the Kubernetes API (%v); retrying",
			ErrNotReady, verb, w.opts.Namespace, w.opts.Service, err)
	}
}

// endpointOf derives host:port from a LoadBalancer Service: the first address
// the cloud published (IPv4 preferred), and the Service's UDP port.
func endpointOf(svc *corev1.Service, portName string) (string, error) {
	id := svc.Namespace + "/" + svc.Name
	if svc.Spec.Type != corev1.ServiceTypeLoadBalancer {
		return "", fmt.Errorf("%w: Service %s is of type %s, not LoadBalancer, so it has no public address; "+
			"make it a LoadBalancer or set the endpoint explicitly", ErrNotReady, id, svc.Spec.Type)
	}
	port, err := udpPort(svc, portName)
	if err != nil {
		return "", err
	}
	var host string
	for _, ing := range svc.Status.LoadBalancer.Ingress {
		switch {
		case ing.IP != "" && net.ParseIP(ing.IP).To4() != nil:
			return net.JoinHostPort(ing.IP, strconv.Itoa(int(port))), nil
		case host == "" && ing.IP != "":
			host = ing.IP
		case host == "" && ing.Hostname != "":
			host = ing.Hostname
		}
	}
	if host == "" {
		return "", fmt.Errorf("%w: the load balancer for Service %s has no address yet "+
			"(the cloud is still provisioning it; see kubectl -n %s describe service %s for events)",
			ErrNotReady, id, svc.Namespace, svc.Name)
	}
	return net.JoinHostPort(host, strconv.Itoa(int(port))), nil
}

func udpPort(svc *corev1.Service, name string) (int32, error) {
	var found []corev1.ServicePort
	for _, p := range svc.Spec.Ports {
		if p.Protocol == corev1.ProtocolUDP && (name == "" || p.Name == name) {
			found = append(found, p)
		}
	}
	id := svc.Namespace + "/" + svc.Name
	switch {
	case len(found) == 1:
		return found[0].Port, nil
	case len(found) == 0 && name != "":
		return 0, fmt.Errorf("%w: Service %s has no UDP port named %q; fix the port name in the server's settings or the Service",
			ErrNotReady, id, name)
	case len(found) == 0:
		return 0, fmt.Errorf("%w: Service %s has no UDP port; WireGuard needs one", ErrNotReady, id)
	default:
		return 0, fmt.Errorf("%w: Service %s has %d UDP ports; name the WireGuard one in the server's settings",
			ErrNotReady, id, len(found))
	}
}
