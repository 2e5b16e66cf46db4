//go:build linux

package e2e

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ghostwire/ghostwire/app/localapi"
	"github.com/ghostwire/ghostwire/e2e/topo"
	"github.com/ghostwire/ghostwire/internal/kubetest"
	"github.com/ghostwire/ghostwire/server/kube/records"
)

// haWorld is one cluster served by several ghostwire-server replicas, as the
// ha component deploys it: each replica on a node of its own (a namespace with
// its own public address, WireGuard endpoint and pod link into the cluster),
// all sharing peers through a real Kubernetes API server (etcd and
// kube-apiserver inside the cluster's namespace, on a service IP, as the
// in-cluster API is), with the Role the manifests give them, and an ingress (a
// TCP load balancer on the internet) in front of their APIs.
type haWorld struct {
	*topo.Topology
	c          *topo.Cluster
	api        *kubetest.Server
	kubeconfig string
	nodes      []*topo.NS
	public     []netip.Addr
	pod        []netip.Addr
	certs      [][2]string
	ingress    netip.Addr
	extra      []string
	mu         sync.Mutex
	procs      []*topo.Proc
	daemon     *topo.Daemon
}

const (
	haNamespace = "ghostwire"
	// haLease is the replicas' lease in these tests (production: 15 s).
	haLease = "6s"
	// haPeerCheck: how often the daemon asks about its peer here (and so
	// learns of replicas that restarted); production: 30 s.
	haPeerCheck = 3 * time.Second
)

// apiServiceIP is where the cluster's Kubernetes API listens (a service IP).
func (w *haWorld) apiServiceIP() netip.Addr { return w.c.ServiceCIDR.Addr().Next() }

func newHAWorld(t testing.TB, replicas int, serverArgs ...string) *haWorld {
	t.Helper()
	kubetest.Require(t)
	tp := newTopology(t, 1)
	requireBin(t, tp.Bins.Server)
	requireBin(t, tp.Bins.Client)
	w := &haWorld{Topology: tp, c: tp.Clusters[0], extra: serverArgs, ingress: netip.MustParseAddr("198.51.100.200")}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if _, err := tp.StartIdP(ctx); err != nil {
		t.Fatal(err)
	}
	c := w.c
	// The control plane: etcd and kube-apiserver in the cluster namespace.
	if _, err := c.Cluster.Run("ip", "addr", "add", w.apiServiceIP().String()+"/32", "dev", "lo"); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(tp.Dir, "kube")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	api, err := kubetest.StartWith(dir, kubetest.Options{NetNS: c.Cluster.Name, Address: w.apiServiceIP().String(), Dial: c.Cluster.DialContext})
	if err != nil {
		t.Fatalf("starting the cluster's Kubernetes API: %v", err)
	}
	t.Cleanup(api.Stop)
	w.api = api
	api.InstallCRDs(t)
	if err := api.EnsureNamespace(haNamespace); err != nil {
		t.Fatal(err)
	}
	w.kubeconfig = kubetest.WriteKubeconfig(t, api.ServerAccount(t, haNamespace), haNamespace)

	// Nodes: the topology's own for replica 0, new ones for the others.
	w.nodes, w.public, w.pod = []*topo.NS{c.Node}, []netip.Addr{c.NodePublic}, []netip.Addr{c.NodePod}
	for k := 1; k < replicas; k++ {
		if err := w.addNode(k); err != nil {
			t.Fatalf("node for replica %d: %v", k, err)
		}
	}
	for i := range w.nodes {
		cert, key, err := tp.CA.Issue(fmt.Sprintf("server-ha-%d", i), []net.IP{w.public[i].AsSlice(), w.ingress.AsSlice()})
		if err != nil {
			t.Fatal(err)
		}
		w.certs = append(w.certs, [2]string{cert, key})
	}
	// The ingress in front of every replica's API.
	if _, err := tp.Inet.Run("ip", "addr", "add", w.ingress.String()+"/32", "dev", "lo"); err != nil {
		t.Fatal(err)
	}
	var backends []string
	for _, p := range w.public {
		backends = append(backends, net.JoinHostPort(p.String(), strconv.Itoa(c.APIPort)))
	}
	if _, err := tp.StartHelper(tp.Inet, "ingress-api", "tcplb", "--listen", net.JoinHostPort(w.ingress.String(), strconv.Itoa(c.APIPort)),
		"--backends", strings.Join(backends, ",")); err != nil {
		t.Fatal(err)
	}
	w.procs = make([]*topo.Proc, replicas)
	for i := range w.nodes {
		w.startReplica(t, i, false)
	}
	for i := range w.nodes {
		w.waitReady(t, i)
	}
	w.waitAnnounced(t)
	w.daemon = tp.NewDaemon()
	w.daemon.Args = []string{"--peer-check-interval", haPeerCheck.String()}
	if err := w.daemon.Start(ctx); err != nil {
		t.Fatal(err)
	}
	return w
}

// addNode makes node k: its own public address on the internet and its own
// link into the cluster's pod network (10.204.k.0/24).
func (w *haWorld) addNode(k int) error {
	c := w.c
	n, err := w.NewNS(fmt.Sprintf("node1r%d", k), c.PodResolvConf())
	if err != nil {
		return err
	}
	inetSide := netip.AddrFrom4([4]byte{198, 51, 100, byte(64 + 16*(k-1) + 1)})
	public := netip.AddrFrom4([4]byte{198, 51, 100, byte(64 + 16*(k-1) + 2)})
	b := c.PodCIDR.Addr().As4()
	pod := netip.AddrFrom4([4]byte{b[0], b[1], byte(k), 1})
	clusterSide := netip.AddrFrom4([4]byte{b[0], b[1], byte(k), 2})
	if err := n.Sysctl("net.ipv4.ip_forward", "1"); err != nil {
		return err
	}
	if err := topo.Link(n, "eth0", w.Inet, fmt.Sprintf("r%d", k)); err != nil {
		return err
	}
	if err := topo.Link(n, "pods", c.Cluster, fmt.Sprintf("eth%d", k)); err != nil {
		return err
	}
	for _, cmd := range [][]string{
		{"ip", "addr", "add", public.String() + "/28", "dev", "eth0"},
		{"ip", "route", "add", "default", "via", inetSide.String()},
		{"ip", "addr", "add", pod.String() + "/24", "dev", "pods"},
		{"ip", "route", "add", c.ServiceCIDR.String(), "via", clusterSide.String()},
	} {
		if _, err := n.Run(cmd[0], cmd[1:]...); err != nil {
			return err
		}
	}
	if _, err := w.Inet.Run("ip", "addr", "add", inetSide.String()+"/28", "dev", fmt.Sprintf("r%d", k)); err != nil {
		return err
	}
	if _, err := c.Cluster.Run("ip", "addr", "add", clusterSide.String()+"/24", "dev", fmt.Sprintf("eth%d", k)); err != nil {
		return err
	}
	w.nodes, w.public, w.pod = append(w.nodes, n), append(w.public, public), append(w.pod, pod)
	return nil
}

func (w *haWorld) replicaName(i int) string { return fmt.Sprintf("ghostwire-server-%d", i) }
func (w *haWorld) iface(i int) string       { return fmt.Sprintf("gwe%sr%d", w.Suffix, i) }
func (w *haWorld) url() string {
	return "https://" + net.JoinHostPort(w.ingress.String(), strconv.Itoa(w.c.APIPort))
}
func (w *haWorld) replicaURL(i int) string {
	return "https://" + net.JoinHostPort(w.public[i].String(), strconv.Itoa(w.c.APIPort))
}

// startReplica runs replica i (again): a new process, so a new key.
func (w *haWorld) startReplica(t testing.TB, i int, wait bool) {
	t.Helper()
	o := topo.ServerOptions{IdleTimeout: testIdleTimeout, RegistrationGrace: testGrace, SweepInterval: time.Second}
	args := w.ServerArgs(w.c, o)
	args = append(args,
		"--listen", net.JoinHostPort(w.public[i].String(), strconv.Itoa(w.c.APIPort)),
		"--ops-listen", net.JoinHostPort(w.pod[i].String(), "9090"),
		"--tls-cert", w.certs[i][0], "--tls-key", w.certs[i][1],
		"--interface", w.iface(i),
		"--endpoint", net.JoinHostPort(w.public[i].String(), strconv.Itoa(w.c.WireGuardUDP)),
		"--kube-ha", "--kubeconfig", w.kubeconfig, "--kube-namespace", haNamespace,
		"--replica-name", w.replicaName(i), "--replica-lease", haLease)
	args = append(args, w.extra...)
	p, err := w.Start(w.nodes[i], "server-ha-"+strconv.Itoa(i), nil, w.Bins.Server, args...)
	if err != nil {
		t.Fatal(err)
	}
	w.mu.Lock()
	w.procs[i] = p
	w.mu.Unlock()
	if wait {
		w.waitReady(t, i)
	}
}

func (w *haWorld) proc(i int) *topo.Proc {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.procs[i]
}

// waitReady waits until replica i's /readyz answers 200: its device holds
// every shared peer.
func (w *haWorld) waitReady(t testing.TB, i int) {
	t.Helper()
	hc := w.nodes[i].HTTPClient(nil, 2*time.Second)
	url := "http://" + net.JoinHostPort(w.pod[i].String(), "9090") + "/readyz"
	if err := topo.WaitHTTP(context.Background(), hc, url, w.proc(i), 60*time.Second); err != nil {
		t.Fatalf("replica %d not ready: %v\n%s", i, err, w.proc(i).Tail(4000))
	}
}

// waitAnnounced waits until every replica's record says it is ready, with
// its current key: what each replica tells clients.
func (w *haWorld) waitAnnounced(t testing.TB) {
	t.Helper()
	rc, err := records.NewClient(w.api.Admin, haNamespace)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for i := range w.nodes {
		for {
			r, err := rc.GetReplica(context.Background(), w.replicaName(i))
			if err == nil && r.Status.Ready && r.Spec.PublicKey == w.replicaKey(t, i) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("replica %d's record does not announce it ready with its key: %+v %v", i, r, err)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	time.Sleep(200 * time.Millisecond) // the others' watches deliver it
}

// registrations counts the registrations the replicas accepted, from their
// audit lines (every process of every replica, restarts included).
func (w *haWorld) registrations(t testing.TB) int {
	t.Helper()
	n := 0
	for i := range w.nodes {
		b, err := os.ReadFile(filepath.Join(w.LogDir, "server-ha-"+strconv.Itoa(i)+".log"))
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range strings.Split(string(b), "\n") {
			if strings.Contains(l, "msg=audit") && strings.Contains(l, "decision=allow") &&
				(strings.Contains(l, "action=register") || strings.Contains(l, "action=rotate")) {
				n++
			}
		}
	}
	return n
}

// wgPeer is one peer of a WireGuard device as `wg show dump` prints it.
type wgPeer struct {
	key, endpoint, allowed string
	handshake              time.Time
}

// devicePeers reads a device's peers with the stock `wg` tool.
func devicePeers(t testing.TB, ns *topo.NS, iface string) []wgPeer {
	t.Helper()
	out, err := ns.Run("wg", "show", iface, "dump")
	if err != nil {
		t.Fatalf("wg show %s dump: %v", iface, err)
	}
	var ps []wgPeer
	for i, line := range strings.Split(strings.TrimSpace(out), "\n") {
		f := strings.Split(line, "\t")
		if i == 0 || len(f) < 8 {
			continue // the interface's own line
		}
		p := wgPeer{key: f[0], endpoint: f[2], allowed: f[3]}
		if sec, _ := strconv.ParseInt(f[4], 10, 64); sec > 0 {
			p.handshake = time.Unix(sec, 0)
		}
		ps = append(ps, p)
	}
	return ps
}

// laptopPeers are the daemon's tunnel's peers: the replicas.
func (w *haWorld) laptopPeers(t testing.TB) []wgPeer {
	return devicePeers(t, w.Laptop, w.daemon.InterfacePrefix()+"0")
}

// replicaKey is replica i's public key, as its device says ("" while the
// replica is down).
func (w *haWorld) replicaKey(t testing.TB, i int) string {
	t.Helper()
	if done, _ := w.proc(i).Exited(); done {
		return ""
	}
	out, err := w.nodes[i].Run("wg", "show", w.iface(i), "public-key")
	if err != nil {
		return ""
	}
	return strings.TrimSpace(out)
}

// waitLaptopHolds waits until the laptop's tunnel holds exactly the live
// replicas' keys, each with a session (a handshake within WireGuard's
// reject-after time).
func (w *haWorld) waitLaptopHolds(t testing.TB, timeout time.Duration) {
	t.Helper()
	var want []string
	for i := range w.nodes {
		k := w.replicaKey(t, i)
		if k == "" {
			t.Fatalf("replica %d is down", i)
		}
		want = append(want, k)
	}
	slices.Sort(want)
	deadline := time.Now().Add(timeout)
	for {
		var got []string
		fresh := true
		for _, p := range w.laptopPeers(t) {
			got = append(got, p.key)
			fresh = fresh && !p.handshake.IsZero() && time.Since(p.handshake) < 180*time.Second
		}
		slices.Sort(got)
		if slices.Equal(got, want) && fresh {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the laptop's tunnel holds %v (each with a session: %v), want the replicas %v", got, fresh, want)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// activeReplica is the replica the laptop's routes go to.
func (w *haWorld) activeReplica(t testing.TB) int {
	t.Helper()
	for _, p := range w.laptopPeers(t) {
		if p.allowed == "" || p.allowed == "(none)" {
			continue
		}
		for i := range w.nodes {
			if w.replicaKey(t, i) == p.key {
				return i
			}
		}
		return -1 // a replica that is down
	}
	t.Fatalf("no replica carries the laptop's routes: %+v", w.laptopPeers(t))
	return -1
}

// loop fetches from the cluster through the tunnel as fast as a program
// would (a new connection for every request, 150 ms each at most: a few
// round trips here), and
// records when each answer came and the profile's states meanwhile.
type loop struct {
	mu     sync.Mutex
	ok     []time.Time
	states []localapi.State
	signIn bool
	stop   chan struct{}
	done   sync.WaitGroup
}

func (w *haWorld) startLoop(t testing.TB) *loop {
	l := &loop{stop: make(chan struct{})}
	url := "http://" + w.c.Prometheus.String() + "/metrics"
	hc := w.Laptop.HTTPClient(nil, 150*time.Millisecond)
	l.done.Add(2)
	go func() {
		defer l.done.Done()
		for {
			select {
			case <-l.stop:
				return
			default:
			}
			resp, err := hc.Get(url)
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					l.mu.Lock()
					l.ok = append(l.ok, time.Now())
					l.mu.Unlock()
				}
			}
			time.Sleep(10 * time.Millisecond)
		}
	}()
	go func() {
		defer l.done.Done()
		for {
			select {
			case <-l.stop:
				return
			case <-time.After(50 * time.Millisecond):
			}
			st, err := w.daemon.Status(context.Background())
			if err != nil || len(st.Profiles) == 0 {
				continue
			}
			p := st.Profiles[0]
			l.mu.Lock()
			if n := len(l.states); n == 0 || l.states[n-1] != p.State {
				l.states = append(l.states, p.State)
			}
			l.signIn = l.signIn || p.SignIn != nil
			l.mu.Unlock()
		}
	}()
	t.Cleanup(l.end)
	return l
}

func (l *loop) end() {
	select {
	case <-l.stop:
	default:
		close(l.stop)
	}
	l.done.Wait()
}

// gap is the longest time between two answers after from (and from the last
// answer before from to the first after it).
func (l *loop) gap(from, to time.Time) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	var longest time.Duration
	var prev time.Time
	for _, at := range l.ok {
		if at.After(to) {
			break
		}
		if !prev.IsZero() && at.After(from) {
			longest = max(longest, at.Sub(prev))
		}
		prev = at
	}
	return longest
}

// answeredAfter waits until an answer came after at.
func (l *loop) answeredAfter(t testing.TB, at time.Time, timeout time.Duration) time.Time {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		l.mu.Lock()
		var first time.Time
		for _, x := range l.ok {
			if x.After(at) {
				first = x
				break
			}
		}
		l.mu.Unlock()
		if !first.IsZero() {
			return first
		}
		if time.Now().After(deadline) {
			t.Fatalf("no answer from the cluster within %s after %s", timeout, at.Format("15:04:05.000"))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// lastBefore is the last answer at or before at.
func (l *loop) lastBefore(at time.Time) time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	var last time.Time
	for _, x := range l.ok {
		if x.After(at) {
			break
		}
		last = x
	}
	return last
}

func (l *loop) history() ([]localapi.State, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.states), l.signIn
}

// kill ends replica i with SIGKILL (a node lost: nothing is cleaned up).
func (w *haWorld) kill(i int) { w.proc(i).Kill() }

// stopGracefully ends replica i as Kubernetes does in a rolling update.
func (w *haWorld) stopGracefully(t testing.TB, i int) {
	t.Helper()
	p := w.proc(i)
	if err := p.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := p.Wait(30 * time.Second); err != nil && !strings.Contains(err.Error(), "exit status") {
		t.Fatalf("replica %d did not stop: %v", i, err)
	}
}
