# A real Kubernetes API server for the replica (HA) tests: etcd from Debian,
# kube-apiserver built from the Go module proxy (the kubernetes module cannot be
# `go install`ed: build-kube-apiserver.sh makes a scratch module). Built once,
# ~10 min on 2 cores, and cached under $(GOPATH)/bin with its version in the
# name; `make deps` builds it when it is missing. Keep the version in step with
# kubetest.APIServerVersion and k8s.io/client-go in go.mod.

KUBE_APISERVER_VERSION := v1.37.2
KUBE_APISERVER := $(shell $(GO) env GOPATH)/bin/kube-apiserver-$(KUBE_APISERVER_VERSION)
APT_PACKAGES += etcd-server
SYSTEM_TEST_TARGETS += test-ha

.PHONY: test-ha kube-apiserver

deps: $(KUBE_APISERVER)
# The end-to-end replica scenarios and the replica benchmarks run it too.
test-e2e bench-server bench-e2e: $(KUBE_APISERVER)

## kube-apiserver: build and cache the API server the HA tests run (once)
kube-apiserver: $(KUBE_APISERVER)

$(KUBE_APISERVER):
	@echo "building kube-apiserver $(KUBE_APISERVER_VERSION) from the Go module proxy (once, ~10 min)"
	GO=$(GO) internal/kubetest/build-kube-apiserver.sh $(KUBE_APISERVER_VERSION) $@

## test-ha: the replica mode against a real kube-apiserver + etcd: shared records, presence, least privilege, manifests (root for the devices)
test-ha: $(KUBE_APISERVER)
	GHOSTWIRE_KUBE_APISERVER=$(KUBE_APISERVER) $(GO) test -race -count=1 -timeout 20m -run '^TestHA' \
		./internal/kubetest/ ./server/... ./deploy/
