// Package kube is ghostwire-server's window on the Kubernetes API, and the only
// server code that imports client-go. It answers two questions for the server:
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
// clientset; [InClusterClient] builds the real one from the pod's service account.
// When the endpoint is configured explicitly the server needs neither, and no
// Kubernetes permission at all.
package kube
