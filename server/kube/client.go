package kube

import (
	"fmt"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// InClusterClient returns a clientset that authenticates with the pod's
// service account token. Outside a cluster it fails with a readable error.
func InClusterClient() (kubernetes.Interface, error) {
	cfg, err := rest.InClusterConfig()
	if err != nil {
		return nil, fmt.Errorf("cannot reach the Kubernetes API from here (%w); "+
			"run the server in a cluster with its service account token mounted, or set --endpoint (and --search-domains) instead", err)
	}
	cfg.UserAgent = "ghostwire-server"
	// A handful of requests at start and on reconnects: keep it a polite client.
	cfg.QPS, cfg.Burst = 5, 10
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("build the Kubernetes client: %w", err)
	}
	return cs, nil
}
