// Package metrics defines the server's Prometheus metrics on a registry of
// its own (no global state), served at /metrics.
package metrics

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics is every metric the server exports.
type Metrics struct {
	Registry      *prometheus.Registry
	ActivePeers   prometheus.Gauge
	PoolInUse     prometheus.Gauge
	PoolSize      prometheus.Gauge
	Registrations *prometheus.CounterVec // result: created, existing, rotated, unauthorized, forbidden, bad_request, key_conflict, too_many_devices, pool_exhausted, error
	Removals      *prometheus.CounterVec // reason: disconnect, replaced, idle, no_handshake, expired, shutdown
	Sweeps        prometheus.Counter
	SweepSeconds  prometheus.Histogram
	HandshakeAge  prometheus.Histogram
	Requests      *prometheus.CounterVec // route, code
}

// New registers every metric on a fresh registry, with Go and process collectors.
func New() *Metrics {
	r := prometheus.NewRegistry()
	m := &Metrics{
		Registry:    r,
		ActivePeers: prometheus.NewGauge(prometheus.GaugeOpts{Name: "ghostwire_peers_active", Help: "Peers registered on the WireGuard device."}),
		PoolInUse:   prometheus.NewGauge(prometheus.GaugeOpts{Name: "ghostwire_pool_addresses_in_use", Help: "Client addresses handed out."}),
		PoolSize:    prometheus.NewGauge(prometheus.GaugeOpts{Name: "ghostwire_pool_addresses", Help: "Client addresses in the pool."}),
		Registrations: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ghostwire_registrations_total",
			Help: "POST /v1/peers by result."}, []string{"result"}),
		Removals: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ghostwire_peer_removals_total",
			Help: "Peers removed, by reason."}, []string{"reason"}),
		Sweeps: prometheus.NewCounter(prometheus.CounterOpts{Name: "ghostwire_sweeps_total", Help: "Expiry sweeps run."}),
		SweepSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "ghostwire_sweep_duration_seconds",
			Help: "Time to read the device and remove idle and expired peers.", Buckets: prometheus.ExponentialBuckets(0.001, 2, 14)}),
		HandshakeAge: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "ghostwire_handshake_age_seconds",
			Help: "Age of each peer's latest handshake, observed at every sweep.", Buckets: []float64{5, 15, 30, 60, 120, 180, 300, 600, 1200, 3600}}),
		Requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ghostwire_http_requests_total",
			Help: "API requests by route and status code."}, []string{"route", "code"}),
	}
	r.MustRegister(m.ActivePeers, m.PoolInUse, m.PoolSize, m.Registrations, m.Removals, m.Sweeps, m.SweepSeconds, m.HandshakeAge, m.Requests,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Handler serves the registry in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{Registry: m.Registry})
}
