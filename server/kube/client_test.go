package kube

import (
	"os"
	"strings"
	"testing"
)

// Outside a pod (no KUBERNETES_SERVICE_HOST, no token) the error says what to do.
func TestInClusterConfigOutsideCluster(t *testing.T) {
	if os.Getenv("KUBERNETES_SERVICE_HOST") != "" {
		t.Skip("running inside a Kubernetes pod")
	}
	cfg, _, err := RESTConfig("")
	if err == nil {
		_, err = NewClient(cfg) // what the server does next
	}
	if err == nil || cfg != nil {
		t.Fatalf("got %v, %v; want an error outside a cluster", cfg, err)
	}
	if !strings.Contains(err.Error(), "set --endpoint") {
		t.Fatalf("error does not say what to do instead: %v", err)
	}
}
