//go:build !linux

package kubetest

import (
	"errors"
	"runtime"
)

// The API server runs here on Linux only (etcd from Debian, network
// namespaces); elsewhere the tests that need it fail with this.
func start(logPath, bin string, args ...string) (*proc, error) {
	return nil, errors.New("kubetest runs kube-apiserver on Linux only, not on " + runtime.GOOS)
}

func stop(p *proc) {}
