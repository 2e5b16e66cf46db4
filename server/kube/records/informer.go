package records

import (
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/tools/cache"
)

// Informers keep a watched, local copy of every object of a kind in the
// namespace: a list at start (and after any gap), then the watch's events.
// The handlers get one event at a time, in the order the API server made the
// changes.

// PeerInformer watches Peers.
func (c *Client) PeerInformer() cache.SharedIndexInformer {
	return c.informer(ResourcePeers, &Peer{}, func() runtime.Object { return &PeerList{} })
}

// AddressInformer watches Addresses.
func (c *Client) AddressInformer() cache.SharedIndexInformer {
	return c.informer(ResourceAddresses, &Address{}, func() runtime.Object { return &AddressList{} })
}

// ReplicaInformer watches Replicas.
func (c *Client) ReplicaInformer() cache.SharedIndexInformer {
	return c.informer(ResourceReplicas, &Replica{}, func() runtime.Object { return &ReplicaList{} })
}

func (c *Client) informer(resource string, example runtime.Object, list func() runtime.Object) cache.SharedIndexInformer {
	inf := cache.NewSharedIndexInformer(c.ListWatch(resource, list), example, 0, cache.Indexers{})
	// Managed fields are most of an object's bytes and nothing here reads
	// them: at 10,000 peers that is tens of megabytes saved.
	_ = inf.SetTransform(func(o any) (any, error) {
		if m, err := meta.Accessor(o); err == nil {
			m.SetManagedFields(nil)
		}
		return o, nil
	})
	return inf
}
