# app: the ghostwire client (engine, daemon, CLI, OS events). Included by the root Makefile.

# dbus-daemon: osevents' logind test runs a private bus. curl: the SO_PEERCRED test
# connects to the daemon's socket as user nobody. iputils-ping: the system test pings through the tunnel.
APT_PACKAGES += dbus-daemon curl iputils-ping
SYSTEM_TEST_TARGETS += test-app-system

.PHONY: test-app-system test-engine-stop

## test-app-system: the daemon's socket/caller checks, netlink events in a namespace, and the
## whole client (real daemon process, real server, real sign-in) in namespaces gwd-*.
test-app-system:
	$(GO) test -count=1 -timeout 10m ./app/osevents/ ./app/daemon/ ./app/cli/

## test-engine-stop: down, logout and shutdown in every engine state and every in-flight check, under -race and
## many times over, so a rare schedule that hangs shows (a `down` during a check once hung forever; issue 15)
test-engine-stop:
	$(GO) test -race -count=$(ENGINE_STOP_COUNT) -timeout 20m -run 'TestStopIsBoundedInEveryState' ./app/engine/

ENGINE_STOP_COUNT ?= 20
SYSTEM_TEST_TARGETS += test-engine-stop
