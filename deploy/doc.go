// Package deploy holds ghostwire-server's Kubernetes manifests (kustomize:
// base, components, overlays), its container image recipe and the CoreDNS
// example. It has no Go code of its own: its tests render every overlay with
// the kustomize API, decode each object strictly into Kubernetes types and
// check the security policy and the settings against the server's own flags.
package deploy
