//go:build linux

package topo

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"
)

// Options shape a topology.
type Options struct {
	// Dir holds certificates, configs and logs; it must exist.
	Dir string
	// Clusters is how many node/cluster pairs to build (1 or 2).
	Clusters int
	// Bins locates the programs to run.
	Bins Bins
	// Logf receives progress lines (t.Logf, or the demo's printer); may be nil.
	Logf func(format string, args ...any)
	// Detach lets the processes outlive this program (the demo's DEMO_KEEP=1;
	// `make demo-clean` removes them).
	Detach bool
}

// Bins are the programs the topology runs.
type Bins struct {
	// Server is ghostwire-server, Client is ghostwire.
	Server, Client string
	// CoreDNS is a real CoreDNS binary.
	CoreDNS string
	// Helper is a program that runs the small test services when started with
	// GWE_HELPER set (the test binary itself, or the demo program).
	Helper string
}

// Cluster is one node/cluster pair: the node runs ghostwire-server with a
// public address on the "internet"; the cluster namespace holds the services
// (their service IPs on its loopback) and the cluster's CoreDNS.
type Cluster struct {
	Index int
	// Name is c1, c2, ...
	Name          string
	Node, Cluster *NS
	// NodePublic is the server's address on the internet (API and UDP port).
	NodePublic netip.Addr
	// NodePod is the node's own address on the pod network.
	NodePod      netip.Addr
	PodCIDR      netip.Prefix
	ServiceCIDR  netip.Prefix
	TunnelCIDR   netip.Prefix
	DNS          netip.Addr // kube-dns service IP
	Prometheus   netip.Addr // prometheus.monitoring service IP
	Ingress      netip.Addr // ingress controller service IP
	Domain       string     // cluster domain, cluster.local (in every cluster, as in AKS)
	IngressHost  string     // overridden by coredns-custom to Ingress
	APIPort      int
	WireGuardUDP int
	// ServerCert and ServerKey are the server's TLS files, for NodePublic.
	ServerCert, ServerKey string
}

// OnlyHere is a service name (under the cluster domain) that only this
// cluster's DNS knows, for telling clusters that share cluster.local apart;
// it points at the cluster's prometheus.
func (c *Cluster) OnlyHere() string {
	return fmt.Sprintf("%s-only.monitoring.svc.%s", c.Name, c.Domain)
}

// ServerURL is the server's HTTPS base URL.
func (c *Cluster) ServerURL() string {
	return fmt.Sprintf("https://%s", net.JoinHostPort(c.NodePublic.String(), fmt.Sprint(c.APIPort)))
}

// Topology is the whole world of one run.
type Topology struct {
	Suffix string
	Dir    string
	LogDir string
	Bins   Bins
	CA     *CA
	Inet   *NS
	Laptop *NS
	// LaptopAddr is the laptop's address on its internet link.
	LaptopAddr netip.Addr
	// InternetDNS is the laptop's own DNS server (on the internet namespace).
	InternetDNS netip.Addr
	// IdPAddr is where the dev OpenID provider listens (internet namespace).
	IdPAddr netip.Addr
	// IdPCert and IdPKey are the provider's TLS files.
	IdPCert, IdPKey string
	Clusters        []*Cluster
	// LaptopResolvConf is the laptop's resolv.conf as written at setup.
	LaptopResolvConf []byte

	logf   func(string, ...any)
	detach bool
	mu     sync.Mutex
	nss    []*NS
	procs  []*Proc
}

// Public names and addresses of the simulated internet (documentation ranges).
var (
	inetLaptopSide = netip.MustParseAddr("192.0.2.1")
	laptopAddr     = netip.MustParseAddr("192.0.2.2")
	internetDNS    = netip.MustParseAddr("192.0.2.53")
	idpAddr        = netip.MustParseAddr("192.0.2.100")
	// PublicWeb is what the internet DNS answers for www.example.org.
	PublicWeb = netip.MustParseAddr("192.0.2.80")
	// PublicIngress is the public address the internet DNS gives the ingress
	// hostname; inside the cluster coredns-custom overrides it.
	PublicIngress = netip.MustParseAddr("192.0.2.81")
	// HomePrinter is printer.home.example.org, which only the laptop's own
	// DNS answers (and only to the laptop's link).
	HomePrinter = netip.MustParseAddr("192.0.2.90")
)

// New builds the topology. On error everything made so far is removed.
func New(opts Options) (*Topology, error) {
	if opts.Clusters < 1 || opts.Clusters > 2 {
		return nil, fmt.Errorf("topology supports 1 or 2 clusters, not %d", opts.Clusters)
	}
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	t := &Topology{
		Suffix:      hex.EncodeToString(b),
		Dir:         opts.Dir,
		LogDir:      filepath.Join(opts.Dir, "logs"),
		Bins:        opts.Bins,
		LaptopAddr:  laptopAddr,
		InternetDNS: internetDNS,
		IdPAddr:     idpAddr,
		logf:        opts.Logf,
		detach:      opts.Detach,
	}
	if t.logf == nil {
		t.logf = func(string, ...any) {}
	}
	if err := t.build(opts.Clusters); err != nil {
		t.Close()
		return nil, err
	}
	return t, nil
}

func (t *Topology) ns(role, resolv string) (*NS, error) {
	n, err := createNS(Prefix+role+"-"+t.Suffix, role, resolv)
	if n != nil {
		t.mu.Lock()
		t.nss = append(t.nss, n)
		t.mu.Unlock()
	}
	return n, err
}

func (t *Topology) build(nClusters int) error {
	var err error
	if t.CA, err = NewCA(t.Dir); err != nil {
		return err
	}
	if t.IdPCert, t.IdPKey, err = t.CA.Issue("idp", []net.IP{t.IdPAddr.AsSlice()}); err != nil {
		return err
	}
	resolvInet := fmt.Sprintf("nameserver %s\n", t.InternetDNS)
	if t.Inet, err = t.ns("inet", resolvInet); err != nil {
		return err
	}
	t.LaptopResolvConf = []byte(fmt.Sprintf("# the laptop's own DNS (home router), written by the ghostwire e2e harness\nnameserver %s\nsearch home.example.org\n", t.InternetDNS))
	if t.Laptop, err = t.ns("laptop", string(t.LaptopResolvConf)); err != nil {
		return err
	}
	if err = t.Inet.Sysctl("net.ipv4.ip_forward", "1"); err != nil {
		return err
	}
	if err = veth(t.Laptop, "eth0", t.Inet, "laptop"); err != nil {
		return err
	}
	t.Laptop.mustRun(&err, "ip", "addr", "add", t.LaptopAddr.String()+"/24", "dev", "eth0")
	t.Laptop.mustRun(&err, "ip", "route", "add", "default", "via", inetLaptopSide.String())
	t.Inet.mustRun(&err, "ip", "addr", "add", inetLaptopSide.String()+"/24", "dev", "laptop")
	for _, a := range []netip.Addr{t.InternetDNS, t.IdPAddr, PublicWeb, PublicIngress} {
		t.Inet.mustRun(&err, "ip", "addr", "add", a.String()+"/32", "dev", "lo")
	}
	if err != nil {
		return err
	}
	for i := 0; i < nClusters; i++ {
		c, err := t.buildCluster(i)
		if err != nil {
			return err
		}
		t.Clusters = append(t.Clusters, c)
	}
	t.logf("topology %s: laptop %s, internet %s, %d cluster(s); files in %s", t.Suffix, t.LaptopAddr, t.Inet.Name, nClusters, t.Dir)
	return nil
}

// PodResolvConf is the cluster's nodes' resolv.conf, like a pod's: the
// server pushes these servers and search domains to clients by default.
func (c *Cluster) PodResolvConf() string {
	return fmt.Sprintf("nameserver %s\nsearch ghostwire.svc.%s svc.%s %s\noptions ndots:5\n", c.DNS, c.Domain, c.Domain, c.Domain)
}

func (t *Topology) buildCluster(i int) (*Cluster, error) {
	second := byte(204 + i) // 10.204.0.0/16, 10.205.0.0/16
	ip := func(c, d byte) netip.Addr { return netip.AddrFrom4([4]byte{10, second, c, d}) }
	c := &Cluster{
		Index:        i,
		Name:         fmt.Sprintf("c%d", i+1),
		NodePublic:   netip.AddrFrom4([4]byte{198, 51, 100, byte(16*i + 2)}),
		NodePod:      ip(0, 1),
		PodCIDR:      netip.PrefixFrom(ip(0, 0), 20),
		ServiceCIDR:  netip.PrefixFrom(ip(16, 0), 20),
		TunnelCIDR:   netip.PrefixFrom(netip.AddrFrom4([4]byte{100, byte(84 + i), 0, 0}), 16),
		DNS:          ip(16, 10),
		Ingress:      ip(16, 100),
		Prometheus:   ip(17, 20),
		Domain:       "cluster.local",
		IngressHost:  "grafana.internal.example.com",
		APIPort:      8443,
		WireGuardUDP: 51820,
	}
	inetSide := netip.AddrFrom4([4]byte{198, 51, 100, byte(16*i + 1)})
	var err error
	if c.Node, err = t.ns("node"+fmt.Sprint(i+1), c.PodResolvConf()); err != nil {
		return nil, err
	}
	if c.Cluster, err = t.ns("cluster"+fmt.Sprint(i+1), fmt.Sprintf("nameserver %s\n", c.DNS)); err != nil {
		return nil, err
	}
	if err = c.Node.Sysctl("net.ipv4.ip_forward", "1"); err != nil {
		return nil, err
	}
	if err = veth(c.Node, "eth0", t.Inet, "node"+fmt.Sprint(i+1)); err != nil {
		return nil, err
	}
	if err = veth(c.Node, "pods", c.Cluster, "eth0"); err != nil {
		return nil, err
	}
	c.Node.mustRun(&err, "ip", "addr", "add", c.NodePublic.String()+"/28", "dev", "eth0")
	c.Node.mustRun(&err, "ip", "route", "add", "default", "via", inetSide.String())
	c.Node.mustRun(&err, "ip", "addr", "add", c.NodePod.String()+"/24", "dev", "pods")
	c.Node.mustRun(&err, "ip", "route", "add", c.ServiceCIDR.String(), "via", ip(0, 2).String())
	t.Inet.mustRun(&err, "ip", "addr", "add", inetSide.String()+"/28", "dev", "node"+fmt.Sprint(i+1))
	// The internet does not route private ranges (so the laptop cannot reach
	// the cluster without the tunnel); the node masquerades the cluster's own
	// traffic to the internet, like a cloud NAT, so CoreDNS can forward.
	c.Node.mustRun(&err, "nft", "add", "table", "ip", "gwe-nat")
	c.Node.mustRun(&err, "nft", "add", "chain", "ip", "gwe-nat", "post", "{ type nat hook postrouting priority 100 ; }")
	c.Node.mustRun(&err, "nft", "add", "rule", "ip", "gwe-nat", "post", "ip", "saddr", fmt.Sprintf("10.%d.0.0/16", second), "oifname", "eth0", "masquerade")
	c.Cluster.mustRun(&err, "ip", "addr", "add", ip(0, 2).String()+"/24", "dev", "eth0")
	c.Cluster.mustRun(&err, "ip", "route", "add", "default", "via", c.NodePod.String())
	for _, a := range []netip.Addr{c.DNS, c.Ingress, c.Prometheus} {
		c.Cluster.mustRun(&err, "ip", "addr", "add", a.String()+"/32", "dev", "lo")
	}
	if err != nil {
		return nil, err
	}
	if c.ServerCert, c.ServerKey, err = t.CA.Issue("server-"+c.Name, []net.IP{c.NodePublic.AsSlice()}); err != nil {
		return nil, err
	}
	return c, nil
}

// NewNS makes one more namespace of this run (removed by Close), for worlds
// the standard topology does not build (several server replicas).
func (t *Topology) NewNS(role, resolv string) (*NS, error) { return t.ns(role, resolv) }

// Link joins a and b with a veth pair named ifA in a and ifB in b.
func Link(a *NS, ifA string, b *NS, ifB string) error { return veth(a, ifA, b, ifB) }

// Track registers a process so Close stops it.
func (t *Topology) Track(p *Proc) {
	t.mu.Lock()
	t.procs = append(t.procs, p)
	t.mu.Unlock()
}

// Start runs a program inside ns and tracks it; its log is dir/logs/<name>.log.
func (t *Topology) Start(ns *NS, name string, env []string, bin string, args ...string) (*Proc, error) {
	p, err := ns.Start(t.LogDir, name, env, t.detach, bin, args...)
	if err != nil {
		return nil, err
	}
	t.Track(p)
	return p, nil
}

// Close stops every process (newest first) and removes every namespace and
// /etc/netns directory this run made. Safe to call more than once.
func (t *Topology) Close() {
	t.mu.Lock()
	procs, nss := t.procs, t.nss
	t.procs, t.nss = nil, nil
	t.mu.Unlock()
	for i := len(procs) - 1; i >= 0; i-- {
		procs[i].Stop(5 * time.Second)
	}
	for i := len(nss) - 1; i >= 0; i-- {
		if err := deleteNS(nss[i].Name); err != nil {
			t.logf("cleanup: %v", err)
		}
	}
}

// DumpLogs writes the tail of every process log, for a failed test.
func (t *Topology) DumpLogs(w io.Writer, maxPerFile int) {
	files, _ := filepath.Glob(filepath.Join(t.LogDir, "*.log"))
	sort.Strings(files)
	for _, f := range files {
		fmt.Fprintf(w, "\n----- %s -----\n%s\n", filepath.Base(f), tailFile(f, maxPerFile))
	}
}

// WaitTCP waits until addr accepts TCP connections from inside ns.
func WaitTCP(ctx context.Context, ns *NS, addr string) error {
	var last error
	for {
		c, err := ns.DialContext(ctx, "tcp", addr)
		if err == nil {
			c.Close()
			return nil
		}
		last = err
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s not reachable from %s: %v", addr, ns.Role, last)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Resolver returns a resolver inside ns that asks server (ip:port) only.
func Resolver(ns *NS, server string) *net.Resolver {
	return &net.Resolver{
		PreferGo: true,
		Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return ns.DialContext(ctx, network, server)
		},
	}
}

// LookupUntil retries a lookup of name through server from ns until it answers.
func LookupUntil(ctx context.Context, ns *NS, server, name string) ([]string, error) {
	r := Resolver(ns, server)
	var last error
	for {
		qctx, cancel := context.WithTimeout(ctx, time.Second)
		addrs, err := r.LookupHost(qctx, name)
		cancel()
		if err == nil {
			return addrs, nil
		}
		last = err
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("look up %s via %s from %s: %v", name, server, ns.Role, last)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// ReadFile is os.ReadFile with an error that names the file.
func ReadFile(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return b, err
}

// Hosts renders "ip name" lines for CoreDNS's hosts plugin.
func hostsLines(m map[string]netip.Addr) string {
	var names []string
	for n := range m {
		names = append(names, n)
	}
	sort.Strings(names)
	var b strings.Builder
	for _, n := range names {
		fmt.Fprintf(&b, "        %s %s\n", m[n], n)
	}
	return b.String()
}
