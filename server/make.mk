# server: ghostwire-server (the in-cluster control plane).
# System tests run wireguard-go devices and nftables rules in network
# namespaces named gws-*; they need root and /dev/net/tun.

APT_PACKAGES += iputils-ping
SYSTEM_TEST_TARGETS += test-server-system

.PHONY: test-server-system bench-server server-clean

## test-server-system: server tests that need root (device, handshake, nftables, expiry), plus the unit tests
## (the replica tests, TestHA*, need a kube-apiserver and run in test-ha)
test-server-system:
	$(GO) test -race -count=1 -timeout 5m -skip '^TestHA' ./server/...

## bench-server: 10,000 peers on the userspace device: registration p50/p99, registrations/s (64 clients), sweep time, heap per peer
bench-server:
	$(GO) test -run '^$$' -bench Server10k -benchtime 1x -count 1 -timeout 10m ./server

bench: bench-server

## server-clean: remove gws-* namespaces and sockets left by killed test runs
server-clean:
	@for ns in $$(ip netns list 2>/dev/null | awk '/^gws-/{print $$1}'); do echo "removing namespace $$ns"; ip netns del $$ns; done
	@rm -f /var/run/wireguard/gws*.sock
