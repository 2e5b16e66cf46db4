package records

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Group and Version of the kinds; deploy/components/ha/crds.yaml defines them.
const (
	Group   = "ghostwire.io"
	Version = "v1alpha1"
)

// Resources as the API server (and the Role) names them.
const (
	ResourcePeers     = "peers"
	ResourceAddresses = "addresses"
	ResourceReplicas  = "replicas"
)

// GroupVersion is ghostwire.io/v1alpha1.
var GroupVersion = schema.GroupVersion{Group: Group, Version: Version}

// Owner is who a peer belongs to: Subject decides, Name is for people.
type Owner struct {
	Subject  string `json:"subject"`
	Name     string `json:"name,omitempty"`
	ObjectID string `json:"objectID,omitempty"`
}

// PeerSpec is one registered client key.
type PeerSpec struct {
	// PublicKey is the client's WireGuard public key, standard base64.
	PublicKey  string `json:"publicKey"`
	Owner      Owner  `json:"owner"`
	DeviceName string `json:"deviceName,omitempty"`
	// Address is the client's tunnel address (no prefix length).
	Address string `json:"address"`
	// ExpiresAt is the end of the peer's lifetime, on the API server's clock.
	ExpiresAt metav1.Time `json:"expiresAt"`
	// RegisteredBy names the replica that accepted the registration.
	RegisteredBy string `json:"registeredBy,omitempty"`
}

// IdleVote is one replica's view that a peer is unused: no handshake it has
// seen for the idle timeout (or none since registration, past the grace).
type IdleVote struct {
	// Reason is "idle" or "no_handshake".
	Reason string `json:"reason"`
	// Since is when the replica cast the vote (its own clock; informational).
	Since metav1.Time `json:"since"`
}

// PeerStatus holds what replicas observe.
type PeerStatus struct {
	// Idle maps a replica's name to its vote. A peer is removed as idle only
	// when every live replica has voted: a client may talk to any of them.
	Idle map[string]IdleVote `json:"idle,omitempty"`
}

// Peer is the shared record of one registered client key.
type Peer struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              PeerSpec   `json:"spec"`
	Status            PeerStatus `json:"status,omitempty"`
}

// PeerList is a list of Peers.
type PeerList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Peer `json:"items"`
}

// AddressSpec says which key holds an address.
type AddressSpec struct {
	PublicKey string `json:"publicKey"`
}

// Address reserves one tunnel address for one key, cluster-wide.
type Address struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              AddressSpec `json:"spec"`
}

// AddressList is a list of Addresses.
type AddressList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Address `json:"items"`
}

// ReplicaSpec is what clients need to reach a replica.
type ReplicaSpec struct {
	// PublicKey is the replica's WireGuard public key (made at its start).
	PublicKey string `json:"publicKey"`
	// Endpoint is its public WireGuard endpoint, host:port.
	Endpoint string `json:"endpoint,omitempty"`
	// LeaseSeconds: without a renewal seen for this long the replica is dead.
	LeaseSeconds int32 `json:"leaseSeconds"`
}

// ReplicaStatus is renewed while the replica lives.
type ReplicaStatus struct {
	Ready  bool   `json:"ready"`
	Reason string `json:"reason,omitempty"`
	// RenewTime is the replica's own clock at the last renewal (for people;
	// liveness is judged by seeing the object change, not by this time).
	RenewTime metav1.MicroTime `json:"renewTime"`
	// ClockOffsetMillis is how far the API server's clock is ahead of the
	// replica's (negative: behind), as the replica estimates it.
	ClockOffsetMillis int64 `json:"clockOffsetMillis,omitempty"`
	// Peers is how many peers the replica's device holds.
	Peers int `json:"peers"`
}

// Replica announces one server replica.
type Replica struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              ReplicaSpec   `json:"spec"`
	Status            ReplicaStatus `json:"status,omitempty"`
}

// ReplicaList is a list of Replicas.
type ReplicaList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Replica `json:"items"`
}

// AddToScheme registers the kinds (and the list options they are read with).
func AddToScheme(s *runtime.Scheme) error {
	s.AddKnownTypes(GroupVersion, &Peer{}, &PeerList{}, &Address{}, &AddressList{}, &Replica{}, &ReplicaList{})
	metav1.AddToGroupVersion(s, GroupVersion)
	return nil
}

// DeepCopyObject and friends: written by hand (three small kinds do not need
// code generation); every map, slice and time is copied.

func (in *Peer) DeepCopyInto(out *Peer) {
	*out = *in
	out.TypeMeta = in.TypeMeta
	in.ObjectMeta.DeepCopyInto(&out.ObjectMeta)
	in.Spec.ExpiresAt.DeepCopyInto(&out.Spec.ExpiresAt)
	if in.Status.Idle != nil {
		out.Status.Idle = make(map[string]IdleVote, len(in.Status.Idle))
		for k, v := range in.Status.Idle {
			v.Since = *v.Since.DeepCopy()
			out.Status.Idle[k] = v
		}
	}
}

// DeepCopy returns a deep copy.
func (in *Peer) DeepCopy() *Peer {
	if in == nil {
		return nil
	}
	out := new(Peer)
	in.DeepCopyInto(out)
	return out
}

func (in *Peer) DeepCopyObject() runtime.Object { return in.DeepCopy() }

func (in *PeerList) DeepCopyObject() runtime.Object {
	if in == nil {
		return nil
	}
	out := &PeerList{TypeMeta: in.TypeMeta}
	in.ListMeta.DeepCopyInto(&out.ListMeta)
	if in.Items != nil {
		out.Items = make([]Peer, len(in.Items))
		for i := range in.Items {
			in.Items[i].DeepCopyInto(&out.Items[i])
		}
	}
	return out
}

func (in *Address) DeepCopyInto(out *Address) {
	*out = *in
	in.ObjectMeta.DeepCopyInto(&out.ObjectMeta)
}

// DeepCopy returns a deep copy.
func (in *Address) DeepCopy() *Address {
	if in == nil {
		return nil
	}
	out := new(Address)
	in.DeepCopyInto(out)
	return out
}

func (in *Address) DeepCopyObject() runtime.Object { return in.DeepCopy() }

func (in *AddressList) DeepCopyObject() runtime.Object {
	if in == nil {
		return nil
	}
	out := &AddressList{TypeMeta: in.TypeMeta}
	in.ListMeta.DeepCopyInto(&out.ListMeta)
	if in.Items != nil {
		out.Items = make([]Address, len(in.Items))
		for i := range in.Items {
			in.Items[i].DeepCopyInto(&out.Items[i])
		}
	}
	return out
}

func (in *Replica) DeepCopyInto(out *Replica) {
	*out = *in
	in.ObjectMeta.DeepCopyInto(&out.ObjectMeta)
	in.Status.RenewTime.DeepCopyInto(&out.Status.RenewTime)
}

// DeepCopy returns a deep copy.
func (in *Replica) DeepCopy() *Replica {
	if in == nil {
		return nil
	}
	out := new(Replica)
	in.DeepCopyInto(out)
	return out
}

func (in *Replica) DeepCopyObject() runtime.Object { return in.DeepCopy() }

func (in *ReplicaList) DeepCopyObject() runtime.Object {
	if in == nil {
		return nil
	}
	out := &ReplicaList{TypeMeta: in.TypeMeta}
	in.ListMeta.DeepCopyInto(&out.ListMeta)
	if in.Items != nil {
		out.Items = make([]Replica, len(in.Items))
		for i := range in.Items {
			in.Items[i].DeepCopyInto(&out.Items[i])
		}
	}
	return out
}
