package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/signal"
	"syscall"
	"time"

	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"

	"github.com/ghostwire/ghostwire/auth/verify"
	"github.com/ghostwire/ghostwire/server/audit"
	"github.com/ghostwire/ghostwire/server/config"
	"github.com/ghostwire/ghostwire/server/denylist"
	"github.com/ghostwire/ghostwire/server/dnsconf"
	"github.com/ghostwire/ghostwire/server/forward"
	"github.com/ghostwire/ghostwire/server/httpapi"
	"github.com/ghostwire/ghostwire/server/metrics"
	"github.com/ghostwire/ghostwire/server/pool"
	"github.com/ghostwire/ghostwire/server/registry"
	"github.com/ghostwire/ghostwire/server/sweep"
	"github.com/ghostwire/ghostwire/server/tlsfiles"
	"github.com/ghostwire/ghostwire/server/wgdev"
)

// denyPoll is how often the deny list is re-read when no file event comes.
const denyPoll = 15 * time.Second

func newLogger(cfg *config.Config, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.LogLevel))
	opts := &slog.HandlerOptions{Level: level}
	if cfg.LogFormat == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

// serve runs the server until SIGINT/SIGTERM (or ctx ends), then removes
// every peer, the firewall rules and the device.
func serve(ctx context.Context, cfg *config.Config, logw io.Writer) (err error) {
	log := newLogger(cfg, logw)
	slog.SetDefault(log)
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	if cfg.InsecureHTTP {
		log.Warn("WARNING: --insecure-http: the API is served over plain HTTP and sign-in tokens travel in clear text. " +
			"Use it only for local development and tests; in a cluster serve HTTPS (--tls-cert/--tls-key).")
	}

	vcfg, err := cfg.VerifyConfig()
	if err != nil {
		return err
	}
	vcfg.Logger = log
	verifier, err := verify.New(ctx, vcfg)
	if err != nil {
		return err
	}

	prefix := netip.MustParsePrefix(cfg.CIDR)
	addrs, err := pool.New(prefix, cfg.AddressRest, nil)
	if err != nil {
		return err
	}
	priv, err := wgtypes.GeneratePrivateKey() // in memory only, never written
	if err != nil {
		return fmt.Errorf("generating the server's WireGuard key: %w", err)
	}
	dev, err := wgdev.Open(wgdev.Options{Name: cfg.Interface, Mode: cfg.WGMode, ListenPort: cfg.ListenPort, PrivateKey: priv,
		Address: netip.PrefixFrom(addrs.ServerAddr(), prefix.Bits()), MTU: cfg.MTU, Logger: log})
	if err != nil {
		return err
	}
	defer func() {
		if cerr := dev.Close(); cerr != nil {
			log.Error("removing the WireGuard device", "error", cerr.Error())
		}
		log.Info("WireGuard device removed", "interface", cfg.Interface)
	}()

	dnsServers, search := cfg.DNSServers, cfg.SearchDomains
	if rc, err := dnsconf.Read(cfg.ResolvConf); err != nil {
		if len(dnsServers) == 0 {
			log.Warn("clients get no DNS server", "error", err.Error())
		}
	} else {
		if len(dnsServers) == 0 {
			dnsServers = rc.Nameservers
		}
		search = dnsconf.Merge(rc.Search, search)
	}
	match := dnsconf.Merge([]string{cfg.ClusterDomain}, cfg.MatchDomains)

	var ready []httpapi.Check
	ready = append(ready, httpapi.Check{Name: "device", Func: dev.Check})
	ready = append(ready, httpapi.Check{Name: "token issuer", Func: func() error {
		c, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return verifier.Ready(c)
	}})
	if cfg.ManageFirewall {
		fo := forward.Options{Interface: cfg.Interface, Pool: prefix, Masquerade: cfg.Masquerade, Logger: log}
		for _, r := range cfg.Routes {
			fo.Routes = append(fo.Routes, netip.MustParsePrefix(r))
		}
		for _, d := range dnsServers {
			fo.DNSServers = append(fo.DNSServers, netip.MustParseAddr(d))
		}
		rules, err := forward.Install(fo)
		if err != nil {
			return err
		}
		defer func() {
			if err := rules.Remove(); err != nil {
				log.Error("removing forwarding rules", "error", err.Error())
			}
		}()
		ready = append(ready, httpapi.Check{Name: "forwarding", Func: rules.Status})
	}

	var endpoint httpapi.EndpointSource = httpapi.StaticEndpoint(cfg.Endpoint)
	var domains httpapi.DomainSource
	if cfg.KubeService != "" || cfg.KubeNSSearch {
		ep, ds, err := kubeSources(ctx, cfg, log)
		if err != nil {
			return err
		}
		if ep != nil {
			endpoint = ep
		}
		domains = ds
	}
	ready = append(ready, httpapi.Check{Name: "endpoint", Func: func() error { _, err := endpoint.Endpoint(); return err }})

	var trusted []netip.Prefix
	for _, p := range cfg.TrustedProxies {
		trusted = append(trusted, netip.MustParsePrefix(p))
	}
	m := metrics.New()
	m.PoolSize.Set(float64(addrs.Size()))
	aud := audit.New(log)
	ro := registry.Options{Device: dev, DeviceCap: cfg.DeviceCap, MaxLifetime: cfg.MaxLifetime,
		IdleTimeout: cfg.IdleTimeout, Grace: cfg.RegistrationGrace, RegisterRate: cfg.RegisterRate, RegisterBurst: cfg.RegisterBurst}
	var deny *denylist.List
	var denyAPI httpapi.DenyList
	if cfg.DenyUsersFile != "" {
		if deny, err = denylist.New(cfg.DenyUsersFile, log); err != nil {
			return fmt.Errorf("--deny-users-file: %w", err)
		}
		log.Info("deny list loaded", "file", cfg.DenyUsersFile, "entries", deny.Len())
		ro.Denied = func(o registry.Owner) bool { _, d := deny.Denied(o.Subject, o.ObjectID); return d }
		denyAPI = deny
	}
	if !cfg.KubeHA {
		ro.Pool = addrs // with replicas, addresses are shared records
	}
	reg := registry.New(ro)
	var ha *replicas
	var peers httpapi.Peers
	var replicaList httpapi.ReplicaSource
	if cfg.KubeHA {
		if ha, err = startReplicas(ctx, cfg, log, dev, reg, prefix, addrs.ServerAddr(), endpoint, readiness(&ready), aud, m); err != nil {
			return err
		}
		ready = append(ready, httpapi.Check{Name: "shared peer records", Func: ha.store.Ready})
		peers, replicaList = ha.store, ha.live
	}
	api := httpapi.New(httpapi.Options{
		Config:   cfg.APIConfig(version),
		Verifier: verifier,
		Registry: reg,
		Peers:    peers,
		Replicas: replicaList,
		Network: httpapi.Network{ServerPublicKey: priv.PublicKey(), Endpoint: endpoint, Routes: clientRoutes(cfg.Routes, dnsServers), DNSServers: dnsServers,
			SearchDomains: search, MatchDomains: match, Domains: domains, MTU: cfg.MTU, Keepalive: cfg.Keepalive, IdleTimeout: cfg.IdleTimeout},
		Audit: aud, Metrics: m, Logger: log, Ready: ready, TrustedProxies: trusted, Deny: denyAPI,
	})
	if deny != nil {
		// Events bring a ConfigMap update in at once; the poll is the fallback.
		go deny.Watch(ctx, denyPoll, func() { api.EnforceDenyList(ctx) })
	}
	inUse := addrs.InUse
	if ha != nil {
		inUse = ha.store.AddressesInUse
	}
	go func() {
		for ctx.Err() == nil {
			m.PoolInUse.Set(float64(inUse()))
			select {
			case <-ctx.Done():
			case <-time.After(5 * time.Second):
			}
		}
	}()
	if ha == nil {
		// With replicas the peer store sweeps (votes on idle peers).
		sw := &sweep.Sweeper{Registry: reg, Device: dev, Audit: aud, Metrics: m, Logger: log}
		go sw.Run(ctx, cfg.SweepInterval)
	}

	servers, errc, err := listen(ctx, cfg, log, api, m)
	if err != nil {
		return err
	}
	log.Info("ghostwire-server ready", "version", version, "api", cfg.Listen, "ops", cfg.OpsListen, "interface", cfg.Interface,
		"device", dev.Kind(), "server_public_key", priv.PublicKey().String(), "pool", prefix.String(), "provider", cfg.Provider())

	select {
	case <-ctx.Done():
		log.Info("shutting down")
	case err = <-errc:
		log.Error("serving failed; shutting down", "error", err.Error())
	}
	sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	for _, s := range servers {
		_ = s.Shutdown(sctx)
	}
	if ha != nil {
		// The peers are the other replicas' too: only this replica goes.
		ha.leave(sctx, log)
		return err
	}
	removed, errs := reg.RemoveAll()
	for _, r := range removed {
		aud.Log(sctx, audit.Event{Decision: "remove", Action: "shutdown", Subject: r.Owner.Subject, Name: r.Owner.Name,
			Key: r.Key.String(), Address: r.Addr.String(), Reason: r.Reason})
	}
	for _, e := range errs {
		log.Error("removing a peer at shutdown", "error", e.Error())
	}
	return err
}

// listen starts the API server (HTTPS, or HTTP with --insecure-http) and the
// plain-HTTP ops server (/metrics, /healthz, /readyz).
func listen(ctx context.Context, cfg *config.Config, log *slog.Logger, api http.Handler, m *metrics.Metrics) ([]*http.Server, <-chan error, error) {
	errc := make(chan error, 2)
	mk := func(h http.Handler) *http.Server { return newHTTPServer(h, log) }
	apiSrv := mk(api)
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return nil, nil, fmt.Errorf("listening on --listen %s: %w", cfg.Listen, err)
	}
	if cfg.InsecureHTTP {
		go func() { errc <- apiSrv.Serve(ln) }()
	} else {
		certs, err := tlsfiles.New(cfg.TLSCert, cfg.TLSKey, log)
		if err != nil {
			ln.Close()
			return nil, nil, err
		}
		go certs.Watch(ctx, time.Minute)
		apiSrv.TLSConfig = certs.TLSConfig()
		go func() { errc <- apiSrv.ServeTLS(ln, "", "") }()
	}
	servers := []*http.Server{apiSrv}
	if cfg.OpsListen != "" {
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", m.Handler())
		mux.Handle("GET /healthz", api)
		mux.Handle("GET /readyz", api)
		opsSrv := mk(mux)
		oln, err := net.Listen("tcp", cfg.OpsListen)
		if err != nil {
			ln.Close()
			return nil, nil, fmt.Errorf("listening on --ops-listen %s: %w", cfg.OpsListen, err)
		}
		go func() { errc <- opsSrv.Serve(oln) }()
		servers = append(servers, opsSrv)
	}
	filtered := make(chan error, 1)
	go func() {
		for e := range errc {
			if !errors.Is(e, http.ErrServerClosed) {
				filtered <- e
				return
			}
		}
	}()
	return servers, filtered, nil
}

// Time limits of the HTTP servers (docs/attack-surface.md).
const (
	readHeaderTimeout = 10 * time.Second
	// An HTTP/2 connection silent this long is sent a PING, and closed
	// unless the answer comes within h2PingTimeout. A client that left a
	// header block unfinished cannot answer (any frame but CONTINUATION
	// ends its connection), so such a block is held 15 s at most, as
	// HTTP/1's slow headers are cut at readHeaderTimeout.
	h2PingAfter   = 10 * time.Second
	h2PingTimeout = 5 * time.Second
)

// newHTTPServer is an http.Server for h with every limit set: header
// 10 s (HTTP/1) or 15 s (HTTP/2, see h2PingAfter), read 30 s, write 30 s,
// idle 120 s, headers at most httpapi.HardMaxHeaderBytes (the API answers
// a JSON 431 from httpapi.MaxHeaderBytes).
func newHTTPServer(h http.Handler, log *slog.Logger) *http.Server {
	return &http.Server{Handler: h, ReadHeaderTimeout: readHeaderTimeout, ReadTimeout: 30 * time.Second,
		WriteTimeout: 30 * time.Second, IdleTimeout: 120 * time.Second, MaxHeaderBytes: httpapi.HardMaxHeaderBytes,
		HTTP2:    &http.HTTP2Config{SendPingTimeout: h2PingAfter, PingTimeout: h2PingTimeout},
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
}

// clientRoutes is routes plus a host route for every DNS server outside them,
// so split DNS works even when the service range is not pushed.
func clientRoutes(routes, dns []string) []string {
	out := append([]string{}, routes...)
	for _, d := range dns {
		a, err := netip.ParseAddr(d)
		if err != nil {
			continue
		}
		covered := false
		for _, r := range routes {
			if p, err := netip.ParsePrefix(r); err == nil && p.Contains(a) {
				covered = true
				break
			}
		}
		if !covered {
			out = append(out, netip.PrefixFrom(a, a.BitLen()).String())
		}
	}
	return out
}
