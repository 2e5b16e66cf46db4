//go:build linux

package e2e

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/ghostwire/ghostwire/e2e/topo"
)

// BenchmarkThroughput: iperf3 laptop → node through the ghostwire tunnel
// (daemon → ghostwire-server) vs through plain wireguard-go between the same
// namespaces, in one run (target ratio ≥ 0.95), in two settings:
//
//   - one core per end: the laptop's processes (iperf3 client, WireGuard
//     client) on one core and the node's (WireGuard server, iperf3 server) on
//     another, as on two machines. This is the headline figure.
//   - shared cores: every process anywhere. On 2 cores four busy processes
//     then compete with each other across the two "machines", and the Go
//     scheduler's wake-ups decide more than the code does: single pairs
//     range widely (the figure prints them).
//
// Runs alternate ghostwire/plain in both orders; the ratio is the median of
// adjacent pairs, so a machine that slows down over the run does not bias it.
// The CPU time each WireGuard process spent per GB moved says whether a gap is
// cost or scheduling.
func BenchmarkThroughput(b *testing.B) {
	w := newWorld(b, 1)
	c := w.Clusters[0]
	w.up(b, c, "", topo.UserDemo)
	plainAddr, plainProcs := startPlainWireGuard(b, w.Topology)
	iperfSrv := startIperfServer(b, w.Topology)
	// The node's own pod-network address is inside the pushed pod range: the
	// traffic goes laptop → ghostwire tunnel → server device on the node.
	gw := path{target: c.NodePod.String(), laptop: w.daemon.Proc, node: w.servers[c.Name]}
	plain := path{target: plainAddr, laptop: plainProcs[0], node: plainProcs[1]}

	modes := []placement{shared}
	if cpus := allowedCPUs(b); len(cpus) >= 2 {
		modes = append(modes, perEnd)
	} else {
		fmt.Printf("throughput: one core per end skipped: this process may use only %d core(s)\n", len(cpus))
	}
	const pairs, secs = 6, 4
	res := map[placement]*results{}
	for _, m := range modes {
		res[m] = &results{}
	}
	for i := 0; i < pairs*len(modes); i++ {
		m := modes[i%len(modes)]
		place(b, m, []*topo.Proc{gw.laptop, plain.laptop}, []*topo.Proc{gw.node, plain.node, iperfSrv})
		first, second := gw, plain
		if (i/len(modes))%2 == 1 {
			first, second = plain, gw
		}
		r := res[m]
		s1 := measure(b, w.Topology, first, secs, m)
		s2 := measure(b, w.Topology, second, secs, m)
		if first == gw {
			r.add(s1, s2)
		} else {
			r.add(s2, s1)
		}
	}
	place(b, shared, []*topo.Proc{gw.laptop, plain.laptop}, []*topo.Proc{gw.node, plain.node, iperfSrv})

	for _, m := range modes {
		r := res[m]
		g, p := r.median(func(s sample) float64 { return s.bps }), r.medianPlain(func(s sample) float64 { return s.bps })
		ratio := medianF(r.ratios)
		unit := strings.ReplaceAll(string(m), " ", "-")
		b.ReportMetric(ratio, "ratio-"+unit)
		b.ReportMetric(g/1e9, "Gbit/s-ghostwire-"+unit)
		b.ReportMetric(p/1e9, "Gbit/s-plain-"+unit)
		figure("throughput laptop → node, %s (iperf3, %d alternating pairs × %d s): ghostwire %.2f Gbit/s, plain wireguard-go %.2f Gbit/s (medians); ratio %.2f (median of pairs %s; target ≥ 0.95)",
			m, pairs, secs, g/1e9, p/1e9, ratio, fmtRatios(r.ratios))
		gl, gn := r.median(func(s sample) float64 { return s.laptopCPU }), r.median(func(s sample) float64 { return s.nodeCPU })
		pl, pn := r.medianPlain(func(s sample) float64 { return s.laptopCPU }), r.medianPlain(func(s sample) float64 { return s.nodeCPU })
		figure("CPU per GB moved, %s (median): ghostwire daemon %.2f s + server %.2f s, plain wireguard-go laptop %.2f s + node %.2f s (cost ratio %.2f)",
			m, gl, gn, pl, pn, (gl+gn)/(pl+pn))
	}
}

// placement says where the benchmark's processes may run.
type placement string

const (
	shared placement = "shared cores"
	perEnd placement = "one core per end"
)

// path is one tunnel from the laptop to node 1 and its WireGuard processes.
type path struct {
	target       string // iperf3 server address through this tunnel
	laptop, node *topo.Proc
}

// sample is one iperf3 run: throughput and the CPU seconds each end's
// WireGuard process spent per GB received.
type sample struct{ bps, laptopCPU, nodeCPU float64 }

type results struct {
	gw, plain []sample
	ratios    []float64 // ghostwire/plain of each adjacent pair
}

func (r *results) add(gw, plain sample) {
	r.gw, r.plain = append(r.gw, gw), append(r.plain, plain)
	r.ratios = append(r.ratios, gw.bps/plain.bps)
}

func (r *results) median(f func(sample) float64) float64      { return medianOf(r.gw, f) }
func (r *results) medianPlain(f func(sample) float64) float64 { return medianOf(r.plain, f) }

func medianOf(s []sample, f func(sample) float64) float64 {
	v := make([]float64, len(s))
	for i, x := range s {
		v[i] = f(x)
	}
	return medianF(v)
}

// measure runs iperf3 through p and charges the CPU its processes used.
func measure(tb testing.TB, tp *topo.Topology, p path, secs int, m placement) sample {
	tb.Helper()
	cpu := -1
	if m == perEnd {
		cpu = 0 // the laptop's core
	}
	l0, n0 := cpuTime(tb, p.laptop), cpuTime(tb, p.node)
	run := iperf3(tb, tp, p.target, secs, cpu)
	gb := run.bytes / 1e9
	return sample{
		bps:       run.bps,
		laptopCPU: (cpuTime(tb, p.laptop) - l0).Seconds() / gb,
		nodeCPU:   (cpuTime(tb, p.node) - n0).Seconds() / gb,
	}
}

// place pins the laptop's processes to the first allowed core and the node's
// to the second (perEnd), or lets all of them run anywhere (shared).
func place(tb testing.TB, m placement, laptop, node []*topo.Proc) {
	tb.Helper()
	cpus := allowedCPUs(tb)
	var l, n unix.CPUSet
	for _, c := range cpus {
		if m == shared {
			l.Set(c)
			n.Set(c)
		}
	}
	if m == perEnd {
		l.Set(cpus[0])
		n.Set(cpus[1])
	}
	for _, p := range laptop {
		setAffinity(tb, p, &l)
	}
	for _, p := range node {
		setAffinity(tb, p, &n)
	}
}

func medianF(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	if n := len(s); n%2 == 0 {
		return (s[n/2-1] + s[n/2]) / 2
	}
	return s[len(s)/2]
}

func fmtRatios(v []float64) string {
	out := make([]string, len(v))
	for i, x := range v {
		out[i] = fmt.Sprintf("%.2f", x)
	}
	return "[" + strings.Join(out, " ") + "]"
}
