# e2e: the whole-system tests, `make demo` and the end-to-end benchmarks.
# Everything runs in network namespaces named gwe-<role>-<run>; nothing
# touches the host's own network.

# A real CoreDNS for the cluster DNS (pinned; ~2.5 min to build the first time,
# then cached in the Go build cache).
GO_TOOLS += github.com/coredns/coredns@v1.15.0
SYSTEM_TEST_TARGETS += test-e2e

GWE_COREDNS ?= $(shell $(GO) env GOPATH)/bin/coredns
GWE_ENV := GWE_BIN_DIR=$(BIN) GWE_COREDNS=$(GWE_COREDNS)

.PHONY: test-e2e e2e-clean demo demo-clean bench-e2e

## test-e2e: every end-to-end scenario (root; ~5 min)
test-e2e: build
	$(GWE_ENV) $(GO) test -count=1 -timeout 40m ./e2e/...

## e2e-clean: remove gwe-* namespaces, /etc/netns/gwe-*, sockets and kept logs (/tmp/gwe-e2e-*) of earlier runs
e2e-clean:
	@for ns in $$(ip netns list 2>/dev/null | awk '/^gwe-/{print $$1}'); do \
		echo "removing namespace $$ns"; \
		for pid in $$(ip netns pids $$ns 2>/dev/null); do kill -9 $$pid 2>/dev/null; done; \
		ip netns del $$ns; \
	done
	@rm -rf /etc/netns/gwe-* /var/run/wireguard/gwe*.sock /tmp/gwe-e2e-*

## demo: build, install what is needed, and show ghostwire end to end (DEMO_KEEP=1 keeps it up)
demo: deps build
	$(GO) build -o $(BIN)/gwe-demo ./e2e/cmd/demo
	$(GWE_ENV) $(BIN)/gwe-demo

## demo-clean: tear down a demo kept with DEMO_KEEP=1
demo-clean: e2e-clean
	@rm -rf /tmp/gwe-demo-*

bench: bench-e2e

## bench-e2e: connect time, reconnect times, tunnel throughput vs plain wireguard-go, idle cost (~12 min)
bench-e2e: deps build
	$(GWE_ENV) $(GO) test -count=1 -timeout 40m -run '^$$' -bench . -benchtime=1x ./e2e/
