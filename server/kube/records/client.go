package records

import (
	"context"
	"fmt"
	"net/http"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
)

var (
	scheme = runtime.NewScheme()
	codecs = serializer.NewCodecFactory(scheme)
	params = runtime.NewParameterCodec(scheme)
)

func init() {
	if err := AddToScheme(scheme); err != nil {
		panic(err)
	}
}

// Client reads and writes the three kinds in one namespace.
type Client struct {
	rc        rest.Interface
	namespace string
	clock     *Clock
}

// RequestTimeout bounds every request but watches: a registration waits for
// the API server at most this long before it is refused as unavailable.
const RequestTimeout = 5 * time.Second

// NewClient makes a client for namespace from cfg (in-cluster or a
// kubeconfig). Every answer's Date header feeds the returned client's Clock.
func NewClient(cfg *rest.Config, namespace string) (*Client, error) {
	return NewClientWithClock(cfg, namespace, NewClock(nil))
}

// NewClientWithClock is NewClient with a clock of one's own (a test's
// replica whose clock is off).
func NewClientWithClock(cfg *rest.Config, namespace string, clock *Clock) (*Client, error) {
	c := rest.CopyConfig(cfg)
	c.GroupVersion = &GroupVersion
	c.APIPath = "/apis"
	c.NegotiatedSerializer = codecs.WithoutConversion()
	if c.UserAgent == "" {
		c.UserAgent = "ghostwire-server"
	}
	// Every registration is two writes: client-go's default of 5 requests/s
	// would queue them. The API server's own priority and fairness protects
	// it from a flood.
	if c.QPS == 0 {
		c.QPS, c.Burst = 500, 1000
	}
	wrap := c.WrapTransport
	c.WrapTransport = func(rt http.RoundTripper) http.RoundTripper {
		if wrap != nil {
			rt = wrap(rt)
		}
		return clock.Wrap(rt)
	}
	rc, err := rest.RESTClientFor(c)
	if err != nil {
		return nil, fmt.Errorf("building the client for %s: %w", GroupVersion, err)
	}
	return &Client{rc: rc, namespace: namespace, clock: clock}, nil
}

// Namespace is where the objects live.
func (c *Client) Namespace() string { return c.namespace }

// Clock estimates the API server's clock.
func (c *Client) Clock() *Clock { return c.clock }

func bounded(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, RequestTimeout)
}

// create posts obj (a *Peer, *Address or *Replica) and decodes the answer into out.
func (c *Client) create(ctx context.Context, resource string, obj, out runtime.Object) error {
	ctx, cancel := bounded(ctx)
	defer cancel()
	return c.rc.Post().Namespace(c.namespace).Resource(resource).Body(obj).Do(ctx).Into(out)
}

func (c *Client) get(ctx context.Context, resource, name string, out runtime.Object) error {
	ctx, cancel := bounded(ctx)
	defer cancel()
	return c.rc.Get().Namespace(c.namespace).Resource(resource).Name(name).Do(ctx).Into(out)
}

func (c *Client) update(ctx context.Context, resource, name string, obj, out runtime.Object) error {
	ctx, cancel := bounded(ctx)
	defer cancel()
	return c.rc.Put().Namespace(c.namespace).Resource(resource).Name(name).Body(obj).Do(ctx).Into(out)
}

// mergePatch applies a JSON merge patch; fields not named are left alone,
// so replicas writing different keys of a map never undo each other.
func (c *Client) mergePatch(ctx context.Context, resource, name string, patch []byte, out runtime.Object) error {
	ctx, cancel := bounded(ctx)
	defer cancel()
	return c.rc.Patch(types.MergePatchType).Namespace(c.namespace).Resource(resource).Name(name).Body(patch).Do(ctx).Into(out)
}

// remove deletes name; with uid or resourceVersion set, only that exact
// object (a precondition the API server checks), so a decision taken on an
// old view never removes a newer object of the same name.
func (c *Client) remove(ctx context.Context, resource, name string, uid types.UID, resourceVersion string) error {
	ctx, cancel := bounded(ctx)
	defer cancel()
	opts := metav1.DeleteOptions{}
	if uid != "" || resourceVersion != "" {
		opts.Preconditions = &metav1.Preconditions{}
		if uid != "" {
			opts.Preconditions.UID = &uid
		}
		if resourceVersion != "" {
			opts.Preconditions.ResourceVersion = &resourceVersion
		}
	}
	return c.rc.Delete().Namespace(c.namespace).Resource(resource).Name(name).Body(&opts).Do(ctx).Error()
}

// CreatePeer creates p; it fails with AlreadyExists when the key is registered.
func (c *Client) CreatePeer(ctx context.Context, p *Peer) (*Peer, error) {
	out := &Peer{}
	return out, c.create(ctx, ResourcePeers, p, out)
}

// GetPeer reads one Peer.
func (c *Client) GetPeer(ctx context.Context, name string) (*Peer, error) {
	out := &Peer{}
	return out, c.get(ctx, ResourcePeers, name, out)
}

// PatchPeer applies a JSON merge patch to one Peer.
func (c *Client) PatchPeer(ctx context.Context, name string, patch []byte) (*Peer, error) {
	out := &Peer{}
	return out, c.mergePatch(ctx, ResourcePeers, name, patch, out)
}

// DeletePeer deletes the Peer with this name and uid.
func (c *Client) DeletePeer(ctx context.Context, name string, uid types.UID) error {
	return c.remove(ctx, ResourcePeers, name, uid, "")
}

// CreateAddress reserves an address; it fails with AlreadyExists when taken.
func (c *Client) CreateAddress(ctx context.Context, a *Address) (*Address, error) {
	out := &Address{}
	return out, c.create(ctx, ResourceAddresses, a, out)
}

// UpdateAddress writes a (its resourceVersion makes it conditional).
func (c *Client) UpdateAddress(ctx context.Context, a *Address) (*Address, error) {
	out := &Address{}
	return out, c.update(ctx, ResourceAddresses, a.Name, a, out)
}

// GetAddress reads one Address.
func (c *Client) GetAddress(ctx context.Context, name string) (*Address, error) {
	out := &Address{}
	return out, c.get(ctx, ResourceAddresses, name, out)
}

// DeleteAddress deletes the Address with this name, uid and resourceVersion.
func (c *Client) DeleteAddress(ctx context.Context, name string, uid types.UID, resourceVersion string) error {
	return c.remove(ctx, ResourceAddresses, name, uid, resourceVersion)
}

// CreateReplica announces a replica.
func (c *Client) CreateReplica(ctx context.Context, r *Replica) (*Replica, error) {
	out := &Replica{}
	return out, c.create(ctx, ResourceReplicas, r, out)
}

// UpdateReplica renews a replica (conditional on its resourceVersion).
func (c *Client) UpdateReplica(ctx context.Context, r *Replica) (*Replica, error) {
	out := &Replica{}
	return out, c.update(ctx, ResourceReplicas, r.Name, r, out)
}

// GetReplica reads one Replica.
func (c *Client) GetReplica(ctx context.Context, name string) (*Replica, error) {
	out := &Replica{}
	return out, c.get(ctx, ResourceReplicas, name, out)
}

// DeleteReplica deletes a Replica (uid and resourceVersion may be empty).
func (c *Client) DeleteReplica(ctx context.Context, name string, uid types.UID, resourceVersion string) error {
	return c.remove(ctx, ResourceReplicas, name, uid, resourceVersion)
}

// ListWatch is list and watch of one resource, for an informer. Lists come
// in pages, so a first sync of 10,000 peers is not one giant answer.
func (c *Client) ListWatch(resource string, list func() runtime.Object) *cache.ListWatch {
	return &cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			out := list()
			ctx, cancel := context.WithTimeout(ctx, time.Minute)
			defer cancel()
			return out, c.rc.Get().Namespace(c.namespace).Resource(resource).VersionedParams(&o, params).Do(ctx).Into(out)
		},
		WatchFuncWithContext: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
			o.Watch = true
			return c.rc.Get().Namespace(c.namespace).Resource(resource).VersionedParams(&o, params).Watch(ctx)
		},
	}
}
