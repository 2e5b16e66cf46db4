//go:build linux

package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/ghostwire/ghostwire/e2e/topo"
)

// The end-to-end benchmarks run with `make bench` (-benchtime=1x): each one
// does a fixed number of rounds and reports medians as custom metrics, and
// prints one line per figure for the README.

// firstOK probes url from the laptop until it answers 200 and returns when
// that happened. A new attempt starts every 5 ms, each on a fresh connection
// with its own timeout, so a SYN sent before the tunnel was up (and lost) does
// not hide a working tunnel behind TCP's 1 s retransmission.
func firstOK(tb testing.TB, tp *topo.Topology, url string, timeout time.Duration) time.Time {
	tb.Helper()
	hc := tp.Laptop.HTTPClient(nil, 2*time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	ok := make(chan time.Time, 1)
	// Attempts in flight: enough for every attempt of a whole per-attempt
	// timeout, so attempts stuck on a dead path never hold back new ones.
	sem := make(chan struct{}, 512)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case at := <-ok:
			return at
		case <-ctx.Done():
			tb.Fatalf("%s did not answer 200 within %s", url, timeout)
			return time.Time{}
		case <-tick.C:
		}
		select {
		case sem <- struct{}{}:
		default:
			continue
		}
		go func() {
			defer func() { <-sem }()
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
			resp, err := hc.Do(req)
			if err != nil {
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				select {
				case ok <- time.Now():
				default:
				}
			}
		}()
	}
}

func median(d []time.Duration) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2]
}

func figure(format string, a ...any) {
	fmt.Fprintf(os.Stdout, "FIGURE "+format+"\n", a...)
}

// BenchmarkConnect: from `ghostwire up` with a valid token to the first HTTP
// 200 through the tunnel, median of 20 (target ≤ 200 ms).
func BenchmarkConnect(b *testing.B) {
	// 20 new devices in a few seconds is what the server's per-user
	// registration rate limit exists to stop: lift it for this measurement.
	w := newWorld(b, 1, "--register-rate", "0")
	c := w.Clusters[0]
	w.up(b, c, "", topo.UserDemo) // signs in once; the rounds reuse the session
	url := "http://" + c.Prometheus.String() + "/metrics"
	firstOK(b, w.Topology, url, 10*time.Second)
	ctx := context.Background()
	var total, cli []time.Duration
	for i := 0; i < 20; i++ {
		if out, err := w.daemon.CLI(ctx, "down"); err != nil {
			b.Fatalf("ghostwire down: %v\n%s", err, out)
		}
		w.waitServerPeers(b, c, 0, 5*time.Second)
		start := time.Now()
		done := make(chan topo.UpResult, 1)
		go func() { done <- w.daemon.Up(ctx, c, "", "", nil) }()
		ok := firstOK(b, w.Topology, url, 20*time.Second)
		res := <-done
		if res.Err != nil {
			b.Fatalf("ghostwire up: %v\n%s", res.Err, res.Output)
		}
		total = append(total, ok.Sub(start))
		cli = append(cli, res.Elapsed)
	}
	m := median(total)
	b.ReportMetric(float64(m.Microseconds())/1000, "ms-connect-median")
	b.ReportMetric(float64(median(cli).Microseconds())/1000, "ms-up-command-median")
	figure("connect (ghostwire up with a valid token → first HTTP 200 through the tunnel): median %s, min %s, max %s over %d (target ≤ 200ms); `ghostwire up` itself returns after %s (median)",
		m.Round(time.Millisecond), slices.Min(total).Round(time.Millisecond), slices.Max(total).Round(time.Millisecond), len(total), median(cli).Round(time.Millisecond))
}

// BenchmarkReconnectServerRestart: server killed and started again (new key,
// empty table); time from its API answering again to the first HTTP 200.
func BenchmarkReconnectServerRestart(b *testing.B) {
	w := newWorld(b, 1)
	c := w.Clusters[0]
	w.up(b, c, "", topo.UserDemo)
	url := "http://" + c.Prometheus.String() + "/metrics"
	firstOK(b, w.Topology, url, 10*time.Second)
	var took []time.Duration
	for i := 0; i < 5; i++ {
		w.servers[c.Name].Kill()
		w.startServer(b, c) // returns as soon as /v1/config answers
		back := time.Now()
		took = append(took, firstOK(b, w.Topology, url, 150*time.Second).Sub(back))
	}
	m := median(took)
	b.ReportMetric(float64(m.Microseconds())/1000, "ms-reconnect-restart-median")
	figure("reconnect after server restart (server API back → first HTTP 200): median %s of %v (target ≤ 3s)", m.Round(time.Millisecond), roundAll(took))
}

// BenchmarkReconnectSleep: a network change, then the daemon stopped and
// the link cut past the idle timeout (the server forgets the peer); then the
// daemon resumes and the link comes back a second later, as on a real wake;
// time from the link's return to the first HTTP 200.
func BenchmarkReconnectSleep(b *testing.B) {
	w := newWorld(b, 1)
	c := w.Clusters[0]
	w.up(b, c, "", topo.UserDemo)
	url := "http://" + c.Prometheus.String() + "/metrics"
	firstOK(b, w.Topology, url, 10*time.Second)
	var took []time.Duration
	for i := 0; i < 3; i++ { // each round waits out the idle timeout (~3 min)
		w.waitServerPeers(b, c, 1, 10*time.Second)
		restored := w.sleepPastIdle(b, c)()
		ok := firstOK(b, w.Topology, url, 150*time.Second)
		took = append(took, ok.Sub(restored))
		// Wall times to match with the daemon's log (GWE_KEEP_LOGS=1 keeps it).
		b.Logf("round %d: link back at %s, first HTTP 200 at %s (+%s)", i+1,
			restored.UTC().Format("15:04:05.000"), ok.UTC().Format("15:04:05.000"), ok.Sub(restored).Round(time.Millisecond))
	}
	m := median(took)
	b.ReportMetric(float64(m.Microseconds())/1000, "ms-reconnect-sleep-median")
	figure("reconnect after sleep past the idle timeout (SIGCONT, link back 1 s later → first HTTP 200 after the link's return): median %s of %v (target ≤ 3s)", m.Round(time.Millisecond), roundAll(took))
}

func roundAll(d []time.Duration) []time.Duration {
	out := make([]time.Duration, len(d))
	for i, x := range d {
		out[i] = x.Round(time.Millisecond)
	}
	return out
}

// BenchmarkIdleCost: what a connected tunnel with no traffic costs the
// laptop (and the server) at rest: context switches (each one a wake-up
// the battery pays for) and CPU time per second, over 30 s.
func BenchmarkIdleCost(b *testing.B) {
	w := newWorld(b, 1)
	c := w.Clusters[0]
	w.up(b, c, "", topo.UserDemo)
	time.Sleep(5 * time.Second) // the connect's own checks settle
	const span = 30 * time.Second
	procs := []*topo.Proc{w.daemon.Proc, w.servers[c.Name]}
	names := []string{"daemon", "server"}
	var sw0 [2]int64
	var cpu0 [2]time.Duration
	for i, p := range procs {
		sw0[i], cpu0[i] = switches(b, p), cpuTime(b, p)
	}
	time.Sleep(span)
	for i, p := range procs {
		perSec := float64(switches(b, p)-sw0[i]) / span.Seconds()
		cpu := (cpuTime(b, p) - cpu0[i]) / time.Duration(span.Seconds())
		b.ReportMetric(perSec, "switches/s-"+names[i])
		figure("at rest (connected, no traffic, %s): %s %.1f context switches/s, CPU %s per second",
			span, names[i], perSec, cpu.Round(10*time.Microsecond))
	}
}
