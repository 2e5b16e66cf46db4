// Package records is how ghostwire-server replicas share what they know through
// the Kubernetes API, and nothing else: the Go types of the ghostwire.io/v1alpha1
// kinds (shipped as CustomResourceDefinitions in deploy/components/ha), a small
// typed client for them, informers, and an estimate of the API server's clock.
//
// Three kinds, all namespaced, none secret:
//
//   - Peer, named after the client's public key: owner (subject, display name,
//     Entra oid), device name, tunnel address, expiry, and each replica's vote
//     that the peer is idle from where it stands. Never a token, never a private
//     key: a Peer holds exactly what the audit log already shows.
//   - Address, named after a tunnel address: which public key holds it. Creating
//     one fails when it exists, so two replicas can never hand out the same
//     address; that is the API server's guarantee (etcd's compare-and-swap), not a
//     lock of ours.
//   - Replica, named after the pod: its public WireGuard key, endpoint and
//     readiness, renewed every few seconds while it lives (a lease).
//
// Why custom resources rather than ConfigMaps and Leases: RBAC cannot narrow a
// Role to "our" ConfigMaps or Leases (resourceNames cannot limit create or list),
// so built-in kinds would let the server read and rewrite every ConfigMap of its
// namespace, its own settings and deny list included. With our own kinds the Role
// names only peers, addresses and replicas of ghostwire.io. The API server also
// validates every object against the schema in the CRD, `kubectl get peers` shows
// who is connected, and the objects cost no more to store or watch than
// ConfigMaps. The price is one cluster-scoped install step (the CRDs), done once
// by whoever applies the manifests.
package records
