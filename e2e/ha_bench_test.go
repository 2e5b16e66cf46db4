//go:build linux

package e2e

import (
	"slices"
	"testing"
	"time"
)

// BenchmarkHAFailover: three replicas, a client fetching from the cluster in
// a loop; the replica it uses is killed (-9) and the gap in the loop's
// answers measured (the last through the dead replica → the first through
// the next), five rounds, each killed replica brought back and learned by
// the client before the next round. Target ≤ 1 s.
func BenchmarkHAFailover(b *testing.B) {
	w := newHAWorld(b, 3)
	w.connectHA(b)
	l := w.startLoop(b)
	l.answeredAfter(b, time.Now(), 10*time.Second)
	regs := w.registrations(b)
	var gaps []time.Duration
	for round := 0; round < 5; round++ {
		time.Sleep(3 * time.Second) // past any check the last round caused
		active := w.activeReplica(b)
		killed := time.Now()
		w.kill(active)
		first := l.answeredAfter(b, killed, 30*time.Second)
		gap := first.Sub(l.lastBefore(killed))
		gaps = append(gaps, gap)
		b.Logf("round %d: replica %d killed at %s, answers stopped for %s", round+1, active, killed.UTC().Format("15:04:05.000"), gap.Round(time.Millisecond))
		w.startReplica(b, active, true)
		w.waitAnnounced(b)
		w.waitLaptopHolds(b, 4*haPeerCheck+10*time.Second)
	}
	w.stayedConnected(b, l, regs, "the failovers")
	m := median(gaps)
	b.ReportMetric(float64(m.Microseconds())/1000, "ms-failover-median")
	b.ReportMetric(float64(slices.Max(gaps).Microseconds())/1000, "ms-failover-max")
	figure("failover between replicas (kill -9 of the replica in use; last answer through it → first through another, fetch loop of 150 ms requests): median %s, max %s of %v (target ≤ 1s); no registration, no sign-in",
		m.Round(time.Millisecond), slices.Max(gaps).Round(time.Millisecond), roundAll(gaps))
}
