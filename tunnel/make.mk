# tunnel: the client's OS layer (wireguard-go device, routes, split DNS, crash
# journal). System tests run in network namespaces named gwtc*/gwts*/gwtd* with
# interfaces gwt*; they need root and /dev/net/tun.

APT_PACKAGES += iputils-ping dbus-daemon libc-bin
SYSTEM_TEST_TARGETS += test-tunnel-system

.PHONY: test-tunnel-system bench-tunnel tunnel-clean

## test-tunnel-system: tunnel tests as root: handshake, ping, TCP, routing loop, DNS (stub, resolv.conf, resolved stand-in), kill -9 recovery
test-tunnel-system:
	$(GO) test -race -count=1 -timeout 5m ./tunnel/...

## bench-tunnel: TCP throughput through the tunnel (iperf3, 5 s) and Up-to-handshake time
bench-tunnel:
	$(GO) test -run '^$$' -bench TunnelThroughput -benchtime 1x -count 1 -timeout 5m ./tunnel

bench: bench-tunnel

## tunnel-clean: remove gwtc*/gwts*/gwtd* namespaces, /etc/netns entries and sockets left by killed test runs
tunnel-clean:
	@for ns in $$(ip netns list 2>/dev/null | awk '/^gwt[csd][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f]/{print $$1}'); do echo "removing namespace $$ns"; ip netns del $$ns; rm -rf /etc/netns/$$ns; done
	@rm -f /var/run/wireguard/gwt[0-9a-f]*t.sock /var/run/wireguard/gwtd0.sock
