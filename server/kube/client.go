package kube

import (
	"fmt"
	"os"
	"strings"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// namespaceFile is where Kubernetes mounts the pod's own namespace.
const namespaceFile = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"

// InClusterClient returns a clientset that authenticates with the pod's service
// account token. It fails with a readable error outside a cluster.
func InClusterClient() (kubernetes.Interface, error) {
	cfg, err := rest.InClusterConfig()
	if err != nil {
		return nil, fmt.Errorf("cannot reach the Kubernetes API from this pod (%w); "+
			"run the server in a cluster with a service account token mounted, or set the endpoint explicitly", err)
	}
	cfg.UserAgent = "ghostwire-server"
	// The server makes a handful of requests; keep it a polite client.
	cfg.QPS, cfg.Burst = 5, 10
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("build the Kubernetes client: %w", err)
	}
	return cs, nil
}

// OwnNamespace returns the namespace this pod runs in, read from the service
// account mount.
func OwnNamespace() (string, error) {
	b, err := os.ReadFile(namespaceFile)
	if err != nil {
		return "", fmt.Errorf("cannot tell which namespace the server runs in (%w); set the Service's namespace explicitly", err)
	}
	ns := strings.TrimSpace(string(b))
	if ns == "" {
		return "", fmt.Errorf("%s is empty; set the Service's namespace explicitly", namespaceFile)
	}
	return ns, nil
}
