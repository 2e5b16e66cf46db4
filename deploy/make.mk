# deploy/: the container image. The manifests are checked by `go test ./deploy`
# (part of the unit pass): kustomize renders every overlay, objects decode
# strictly, and the policy and settings are checked against the server's flags.

# The CoreDNS example is served by a real CoreDNS in deploy's tests (same pin as e2e).
GO_TOOLS += github.com/coredns/coredns@v1.15.0

IMAGE ?= ghostwire-server:dev
IMAGE_VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)

.PHONY: image

## image: build the server image (deploy/Dockerfile) with docker, podman or buildah
image:
	@if docker info >/dev/null 2>&1; then \
		echo "building $(IMAGE) with docker"; \
		DOCKER_BUILDKIT=1 docker build -f deploy/Dockerfile --build-arg VERSION=$(IMAGE_VERSION) -t $(IMAGE) .; \
	elif command -v podman >/dev/null 2>&1 && podman info >/dev/null 2>&1; then \
		echo "building $(IMAGE) with podman"; \
		podman build -f deploy/Dockerfile --ignorefile deploy/Dockerfile.dockerignore --build-arg VERSION=$(IMAGE_VERSION) -t $(IMAGE) .; \
	elif command -v buildah >/dev/null 2>&1; then \
		echo "building $(IMAGE) with buildah"; \
		buildah build -f deploy/Dockerfile --ignorefile deploy/Dockerfile.dockerignore --build-arg VERSION=$(IMAGE_VERSION) -t $(IMAGE) .; \
	else \
		echo "make image: cannot build the image here: no container engine found" >&2; \
		echo "  (docker with a running daemon, podman or buildah; this machine has none running)." >&2; \
		echo "  On a machine with one: docker build -f deploy/Dockerfile -t $(IMAGE) ." >&2; \
		exit 2; \
	fi
