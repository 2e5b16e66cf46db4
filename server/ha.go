package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"

	"k8s.io/klog/v2"

	"github.com/ghostwire/ghostwire/server/api"
	"github.com/ghostwire/ghostwire/server/audit"
	"github.com/ghostwire/ghostwire/server/config"
	"github.com/ghostwire/ghostwire/server/httpapi"
	"github.com/ghostwire/ghostwire/server/kube"
	"github.com/ghostwire/ghostwire/server/kube/peerstore"
	"github.com/ghostwire/ghostwire/server/kube/presence"
	"github.com/ghostwire/ghostwire/server/kube/records"
	"github.com/ghostwire/ghostwire/server/metrics"
	"github.com/ghostwire/ghostwire/server/registry"
	"github.com/ghostwire/ghostwire/server/wgdev"
)

// replicas is the server's replica mode (--kube-ha): the shared peer
// records and the presence of the other replicas.
type replicas struct {
	name     string
	store    *peerstore.Store
	presence *presence.Presence
}

// startReplicas connects to the Kubernetes API, announces this replica and
// starts following the shared records (see server/kube/peerstore). ready is
// the server's own readiness, published in the replica's record.
func startReplicas(ctx context.Context, cfg *config.Config, log *slog.Logger, dev *wgdev.Device, reg *registry.Registry,
	prefix netip.Prefix, serverAddr netip.Addr, endpoint httpapi.EndpointSource, ready func() error, aud *audit.Logger, m *metrics.Metrics) (*replicas, error) {
	name, err := cfg.Replica()
	if err != nil {
		return nil, err
	}
	rc, ns, err := kube.RESTConfig(cfg.Kubeconfig)
	if err != nil {
		return nil, fmt.Errorf("--kube-ha: %w", err)
	}
	if cfg.KubeNamespace != "" {
		ns = cfg.KubeNamespace
	}
	if ns == "" {
		return nil, errors.New("--kube-ha: no namespace for the shared records: set --kube-namespace (in a pod it is the pod's own)")
	}
	client, err := records.NewClient(rc, ns)
	if err != nil {
		return nil, err
	}
	// client-go's own lines (watch restarts, throttling) as structured log lines.
	klog.SetSlogLogger(log.With("source", "client-go"))
	r := &replicas{name: name}
	pres, err := presence.Start(ctx, presence.Options{Client: client, Name: name, PublicKey: dev.PublicKey(),
		Endpoint: endpoint.Endpoint, Ready: ready, Peers: reg.Len, Lease: cfg.ReplicaLease, Logger: log})
	if err != nil {
		return nil, err
	}
	store, err := peerstore.New(peerstore.Options{Client: client, Replicas: pres, Registry: reg, Device: dev,
		Prefix: prefix, ServerAddr: serverAddr, Replica: name, MaxLifetime: cfg.MaxLifetime, IdleTimeout: cfg.IdleTimeout,
		Grace: cfg.RegistrationGrace, AddressRest: cfg.AddressRest, Audit: aud, Metrics: m, Logger: log})
	if err != nil {
		return nil, err
	}
	r.presence, r.store = pres, store
	go store.Run(ctx, cfg.SweepInterval)
	log.Info("replica mode: peers are shared records in the Kubernetes API", "replica", name, "namespace", ns,
		"lease", cfg.ReplicaLease.String())
	return r, nil
}

// live lists the live, ready replicas for clients.
func (r *replicas) live() []api.Replica {
	var out []api.Replica
	for _, x := range r.presence.Live(true) {
		out = append(out, api.Replica{Name: x.Name, PublicKey: x.PublicKey.String(), Endpoint: x.Endpoint})
	}
	return out
}

// leave deletes this replica's record at shutdown; the peers stay, carried
// by the other replicas.
func (r *replicas) leave(ctx context.Context, log *slog.Logger) {
	if err := r.presence.Close(ctx); err != nil {
		log.Warn("could not withdraw this replica's record; the others notice when its lease ends", "error", err.Error())
	}
	log.Info("left the replicas; the peers stay with the others", "replica", r.name)
}

// readiness joins checks into one function (the replica's record shows it).
func readiness(checks *[]httpapi.Check) func() error {
	return func() error {
		var failing []string
		for _, c := range *checks {
			if err := c.Func(); err != nil {
				failing = append(failing, c.Name+": "+err.Error())
			}
		}
		if len(failing) > 0 {
			return errors.New(strings.Join(failing, "; "))
		}
		return nil
	}
}
