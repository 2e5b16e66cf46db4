// Package kube is ghostwire-server's window on the Kubernetes API; it and its
// subpackages are the only server code that imports client-go. It answers
// two questions for the server:
//
//   - Where can clients reach our WireGuard port? [EndpointWatcher] watches the
//     server's own LoadBalancer Service (RBAC: get and watch on that one Service,
//     by resourceNames) and reports the load balancer's address and UDP port, or
//     a not-ready error while the cloud has not assigned an address yet.
//   - Which search domains make short names work? [SearchDomainWatcher] lists and
//     watches namespaces (an opt-in ClusterRole) and returns
//     <namespace>.svc.<cluster domain> for each, kept current.
//
// Both take a kubernetes.Interface, so tests run them against client-go's fake
// clientset; [RESTConfig] builds the real one from the pod's service account
// (or --kubeconfig). When the endpoint is configured explicitly the server
// needs neither, and no Kubernetes permission at all.
//
// With several replicas (--kube-ha) the subpackages make Kubernetes the
// distributed engine, with no database or consensus of ghostwire's own:
// records (the shared, non-secret Peer, Address and Replica objects and a
// typed client for them; why custom resources rather than ConfigMaps and
// Leases is in its doc), presence (replicas announcing themselves with a
// lease, and judging each other alive) and peerstore (registrations, removals,
// idle votes and expiry as records every replica follows). They are tested
// against a real kube-apiserver and etcd (internal/kubetest, make test-ha).
package kube
