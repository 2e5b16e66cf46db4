package main

import (
	"context"
	"log/slog"
	"strings"

	"github.com/ghostwire/ghostwire/server/config"
	"github.com/ghostwire/ghostwire/server/httpapi"
	"github.com/ghostwire/ghostwire/server/kube"
)

// kubeSources gives the Kubernetes-backed endpoint (--kube-service) and
// namespace search domains (--kube-namespace-search), both kept current by
// watches (server/kube). Either may be nil when its flag is not set.
func kubeSources(ctx context.Context, cfg *config.Config, log *slog.Logger) (httpapi.EndpointSource, httpapi.DomainSource, error) {
	rc, _, err := kube.RESTConfig(cfg.Kubeconfig)
	if err != nil {
		return nil, nil, err
	}
	client, err := kube.NewClient(rc)
	if err != nil {
		return nil, nil, err
	}
	var ep httpapi.EndpointSource
	var ds httpapi.DomainSource
	if cfg.KubeService != "" {
		svc, err := cfg.KubeServiceName()
		if err != nil {
			return nil, nil, err
		}
		ns, name, _ := strings.Cut(svc, "/")
		w, err := kube.WatchEndpoint(ctx, client, kube.EndpointOptions{Namespace: ns, Service: name, Logger: log})
		if err != nil {
			return nil, nil, err
		}
		ep = w
	}
	if cfg.KubeNSSearch {
		w, err := kube.WatchSearchDomains(ctx, client, kube.SearchDomainOptions{ClusterDomain: cfg.ClusterDomain, Logger: log})
		if err != nil {
			return nil, nil, err
		}
		ds = w
	}
	return ep, ds, nil
}
