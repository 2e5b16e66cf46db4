# app: the ghostwire client (engine, daemon, CLI, OS events). Included by the root Makefile.

# dbus-daemon: osevents' logind test runs a private bus. curl: the SO_PEERCRED test
# connects to the daemon's socket as user nobody. iputils-ping: the system test pings through the tunnel.
APT_PACKAGES += dbus-daemon curl iputils-ping
SYSTEM_TEST_TARGETS += test-app-system

.PHONY: test-app-system

## test-app-system: the daemon's socket/caller checks, netlink events in a namespace, and the
## whole client (real daemon process, real server, real sign-in) in namespaces gwd-*.
test-app-system:
	$(GO) test -count=1 -timeout 10m ./app/osevents/ ./app/daemon/ ./app/cli/
