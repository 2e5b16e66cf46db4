// Package wgpeer is a WireGuard peer that lives entirely inside a test
// process: wireguard-go on a userspace network stack (tun/netstack), reached
// over UDP on loopback, with a tiny "cluster" behind it — an HTTP service
// and a DNS server for cluster.local. It needs no root, no TUN and no
// namespace, so the same system test can bring a real tunnel up against it
// on Linux, macOS and Windows (a real utun or wintun on the client side).
package wgpeer

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"
	"golang.zx2c4.com/wireguard/conn"
	"golang.zx2c4.com/wireguard/device"
	"golang.zx2c4.com/wireguard/tun/netstack"
	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"
)

// The cluster behind the peer. The addresses are in TEST-NET-free private
// space picked to be unlikely on a real LAN; the client's tunnel address is
// in the server pool's default range.
var (
	// Range is what a client routes into the tunnel.
	Range = netip.MustParsePrefix("10.77.0.0/24")
	// DNSAddr answers for Domain.
	DNSAddr = netip.MustParseAddr("10.77.0.53")
	// ServiceAddr serves HTTP on port 80 as prometheus.monitoring.svc.cluster.local.
	ServiceAddr = netip.MustParseAddr("10.77.0.80")
	// ClientAddr is the tunnel address a client should take.
	ClientAddr = netip.MustParsePrefix("100.64.77.2/32")
)

const (
	// Domain is the cluster's DNS domain; Search the search domains that make
	// the short name Service resolve (as a pod in Namespace sees them).
	Domain    = "cluster.local"
	Namespace = "monitoring"
	Service   = "prometheus"
	// Body is what the HTTP service answers.
	Body = "prometheus, through the ghostwire test peer\n"
)

// Search is the cluster's search list for a client in Namespace.
var Search = []string{Namespace + ".svc." + Domain, "svc." + Domain}

// Peer is the running in-process peer.
type Peer struct {
	key      wgtypes.Key
	endpoint netip.AddrPort
	dev      *device.Device
	http     *http.Server
	dns      *dns.Server

	mu      sync.Mutex
	queries []string
}

// Start starts the peer listening on 127.0.0.1 at a free UDP port.
func Start(log *slog.Logger) (*Peer, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	key, err := wgtypes.GeneratePrivateKey()
	if err != nil {
		return nil, err
	}
	port, err := freeUDPPort()
	if err != nil {
		return nil, err
	}
	tdev, tnet, err := netstack.CreateNetTUN([]netip.Addr{DNSAddr, ServiceAddr}, nil, 1420)
	if err != nil {
		return nil, fmt.Errorf("wgpeer: userspace network stack: %w", err)
	}
	p := &Peer{key: key, endpoint: netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(port))}
	p.dev = device.NewDevice(tdev, conn.NewDefaultBind(), &device.Logger{
		Verbosef: func(f string, a ...any) { log.Debug("wgpeer: " + fmt.Sprintf(f, a...)) },
		Errorf:   func(f string, a ...any) { log.Debug("wgpeer: " + fmt.Sprintf(f, a...)) },
	})
	if err := p.dev.IpcSet(fmt.Sprintf("private_key=%x\nlisten_port=%d\n", key[:], port)); err != nil {
		p.dev.Close()
		return nil, fmt.Errorf("wgpeer: configure device: %w", err)
	}
	if err := p.dev.Up(); err != nil {
		p.dev.Close()
		return nil, fmt.Errorf("wgpeer: start device: %w", err)
	}
	hl, err := tnet.ListenTCPAddrPort(netip.AddrPortFrom(ServiceAddr, 80))
	if err != nil {
		p.dev.Close()
		return nil, fmt.Errorf("wgpeer: HTTP listener: %w", err)
	}
	p.http = &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = w.Write([]byte(Body))
	})}
	go func() { _ = p.http.Serve(hl) }()
	pc, err := tnet.ListenUDPAddrPort(netip.AddrPortFrom(DNSAddr, 53))
	if err != nil {
		p.Close()
		return nil, fmt.Errorf("wgpeer: DNS listener: %w", err)
	}
	started := make(chan struct{})
	p.dns = &dns.Server{PacketConn: pc, Handler: dns.HandlerFunc(p.serveDNS), NotifyStartedFunc: func() { close(started) }}
	go func() { _ = p.dns.ActivateAndServe() }()
	<-started
	return p, nil
}

func freeUDPPort() (int, error) {
	c, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("wgpeer: no free UDP port on loopback: %w", err)
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port, nil
}

// PublicKey is the peer's public key, as a client configures it.
func (p *Peer) PublicKey() wgtypes.Key { return p.key.PublicKey() }

// Endpoint is where the peer listens (127.0.0.1:port).
func (p *Peer) Endpoint() netip.AddrPort { return p.endpoint }

// Allow adds a client: its public key and tunnel address.
func (p *Peer) Allow(pub wgtypes.Key, addr netip.Prefix) error {
	return p.dev.IpcSet(fmt.Sprintf("public_key=%x\nreplace_allowed_ips=true\nallowed_ip=%s\n", pub[:], addr))
}

// Queries returns the names the DNS server was asked, in order.
func (p *Peer) Queries() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.queries...)
}

// Close stops the services and the device.
func (p *Peer) Close() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if p.http != nil {
		_ = p.http.Shutdown(ctx)
	}
	if p.dns != nil {
		_ = p.dns.ShutdownContext(ctx)
	}
	p.dev.Close()
}

// records are the cluster's names; everything else under Domain is NXDOMAIN.
var records = map[string]netip.Addr{
	Service + "." + Namespace + ".svc." + Domain + ".": ServiceAddr,
	"kubernetes.default.svc." + Domain + ".":           netip.MustParseAddr("10.77.0.1"),
}

func (p *Peer) serveDNS(w dns.ResponseWriter, r *dns.Msg) {
	m := new(dns.Msg)
	m.SetReply(r)
	m.Authoritative = true
	if len(r.Question) != 1 {
		m.Rcode = dns.RcodeFormatError
		_ = w.WriteMsg(m)
		return
	}
	q := r.Question[0]
	name := strings.ToLower(q.Name)
	p.mu.Lock()
	p.queries = append(p.queries, name)
	p.mu.Unlock()
	switch a, ok := records[name]; {
	case !dns.IsSubDomain(Domain+".", name):
		m.Rcode = dns.RcodeRefused // not ours: a resolver must never send it here
	case !ok:
		m.Rcode = dns.RcodeNameError
	case q.Qtype == dns.TypeA:
		m.Answer = append(m.Answer, &dns.A{Hdr: dns.RR_Header{Name: q.Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 5}, A: a.AsSlice()})
	}
	_ = w.WriteMsg(m)
}
