package kube

import (
	"fmt"
	"os"
	"strings"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// namespaceFile is where a pod finds its own namespace.
const namespaceFile = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"

// RESTConfig is how the server reaches the Kubernetes API: the pod's service
// account when kubeconfig is empty, else that kubeconfig file (tests, or a
// server run outside the cluster). namespace is the pod's own, or the
// kubeconfig context's ("" when neither says).
func RESTConfig(kubeconfig string) (cfg *rest.Config, namespace string, err error) {
	if kubeconfig == "" {
		cfg, err = rest.InClusterConfig()
		if err != nil {
			return nil, "", fmt.Errorf("cannot reach the Kubernetes API from here (%w); "+
				"run the server in a cluster with its service account token mounted, set --kubeconfig, or set --endpoint (and --search-domains) instead", err)
		}
		if b, rerr := os.ReadFile(namespaceFile); rerr == nil {
			namespace = strings.TrimSpace(string(b))
		}
	} else {
		loader := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(
			&clientcmd.ClientConfigLoadingRules{ExplicitPath: kubeconfig}, &clientcmd.ConfigOverrides{})
		if cfg, err = loader.ClientConfig(); err != nil {
			return nil, "", fmt.Errorf("--kubeconfig %s: %w", kubeconfig, err)
		}
		namespace, _, _ = loader.Namespace()
	}
	cfg.UserAgent = "ghostwire-server"
	return cfg, namespace, nil
}

// NewClient returns a clientset for cfg, a polite one: a handful of requests
// at start and on reconnects.
func NewClient(cfg *rest.Config) (kubernetes.Interface, error) {
	c := rest.CopyConfig(cfg)
	c.QPS, c.Burst = 5, 10
	cs, err := kubernetes.NewForConfig(c)
	if err != nil {
		return nil, fmt.Errorf("build the Kubernetes client: %w", err)
	}
	return cs, nil
}
