// Package deploy holds ghostwire-server's Kubernetes manifests (kustomize:
// base, components, overlays), its container image recipe and the CoreDNS
// example. Its only Go code compiles the manifests in and renders them
// (manifests.go), so that tests elsewhere use exactly what operators apply.
// Its tests render every overlay with the kustomize API, decode each object
// strictly into Kubernetes types, check the security policy and the settings
// against the server's own flags, and (make test-ha) have a real API server
// validate them.
package deploy
