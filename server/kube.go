package main

import (
	"context"
	"errors"
	"log/slog"

	"github.com/ghostwire/ghostwire/server/config"
	"github.com/ghostwire/ghostwire/server/httpapi"
)

// kubeSources gives the Kubernetes-backed endpoint (--kube-service) and
// namespace search domains (--kube-namespace-search). server/kube
// implements httpapi.EndpointSource and httpapi.DomainSource; until it is
// part of this build, these flags are refused with a clear message.
func kubeSources(ctx context.Context, cfg *config.Config, log *slog.Logger) (httpapi.EndpointSource, httpapi.DomainSource, error) {
	return nil, nil, errors.New("--kube-service and --kube-namespace-search need the Kubernetes support (server/kube), " +
		"which this build does not include yet: set --endpoint host:port and --search-domains instead")
}
