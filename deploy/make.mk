# deploy/: the container image. The manifests are checked by `go test ./deploy`
# (part of the unit pass): kustomize renders every overlay, objects decode
# strictly, and the policy and settings are checked against the server's flags.

# The CoreDNS example is served by a real CoreDNS in deploy's tests (same pin as e2e).
GO_TOOLS += github.com/coredns/coredns@v1.15.0

IMAGE ?= ghostwire-server:dev
IMAGE_VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)

.PHONY: image image-local

## image: build the server image (deploy/Dockerfile) with docker, podman or buildah
image:
	@if docker info >/dev/null 2>&1; then \
		echo "building $(IMAGE) with docker"; \
		docker build -f deploy/Dockerfile --build-arg VERSION=$(IMAGE_VERSION) -t $(IMAGE) .; \
	elif command -v podman >/dev/null 2>&1 && podman info >/dev/null 2>&1; then \
		echo "building $(IMAGE) with podman"; \
		podman build -f deploy/Dockerfile --ignorefile deploy/Dockerfile.dockerignore --build-arg VERSION=$(IMAGE_VERSION) -t $(IMAGE) .; \
	elif command -v buildah >/dev/null 2>&1; then \
		echo "building $(IMAGE) with buildah"; \
		buildah --storage-driver vfs build --isolation chroot -f deploy/Dockerfile --ignorefile deploy/Dockerfile.dockerignore \
			--build-arg VERSION=$(IMAGE_VERSION) -t $(IMAGE) .; \
	else \
		echo "make image: cannot build the image here: no container engine found" >&2; \
		echo "  (docker with a running daemon, podman or buildah; this machine has none)." >&2; \
		echo "  On a machine with one: docker build -f deploy/Dockerfile -t $(IMAGE) ." >&2; \
		exit 2; \
	fi || { echo "make image: the build failed; if the base images cannot be pulled (offline), make image-local builds the same image from a local binary" >&2; exit 1; }

## image-local: the same image FROM scratch around a binary built here (offline; buildah works without a daemon)
image-local:
	@stage=$$(mktemp -d) && trap 'rm -rf "$$stage"' EXIT && \
	CGO_ENABLED=0 GOOS=linux $(GO) build -trimpath -ldflags "-s -w -X main.version=$(IMAGE_VERSION)" \
		-o "$$stage/ghostwire-server" ./server && \
	cp /etc/ssl/certs/ca-certificates.crt deploy/Containerfile.local "$$stage/" && \
	if docker info >/dev/null 2>&1; then \
		docker build -f "$$stage/Containerfile.local" -t $(IMAGE) "$$stage" && docker run --rm $(IMAGE) --version; \
	elif command -v podman >/dev/null 2>&1 && podman info >/dev/null 2>&1; then \
		podman build -f "$$stage/Containerfile.local" -t $(IMAGE) "$$stage" && podman run --rm $(IMAGE) --version; \
	elif command -v buildah >/dev/null 2>&1; then \
		b="buildah --storage-driver vfs"; \
		$$b build --isolation chroot -f "$$stage/Containerfile.local" -t $(IMAGE) "$$stage" && \
		c=$$($$b from $(IMAGE)) && $$b run --isolation chroot "$$c" -- /usr/local/bin/ghostwire-server --version; \
		rc=$$?; $$b rm "$$c" >/dev/null 2>&1; exit $$rc; \
	else \
		echo "make image-local: cannot build the image here: no docker daemon, podman or buildah (apt-get install buildah)" >&2; \
		exit 2; \
	fi
