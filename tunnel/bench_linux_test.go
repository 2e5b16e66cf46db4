package tunnel

import (
	"encoding/json"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// BenchmarkTunnelThroughput measures TCP throughput through the tunnel
// (iperf3, 5 s, laptop namespace → server namespace, wireguard-go on both
// sides) and the time from Up to the first handshake. It reports Gbit/s
// and ms/handshake; iterations are not meaningful (-benchtime=1x).
//
//	go test -run '^$' -bench BenchmarkTunnelThroughput -benchtime=1x ./tunnel/
func BenchmarkTunnelThroughput(b *testing.B) {
	if isChild(b) {
		tp, priv, peerPub, jdir := childEnv(b)
		cfg := tp.clientConfig(b, priv, &peer{pub: peerPub}, "10.202.1.2:51820", "100.82.0.0/24", "10.202.100.0/24")
		cfg.JournalDir = jdir
		start := time.Now()
		tn := up(b, cfg)
		waitHandshake(b, tn)
		hs := time.Since(start)
		out, err := exec.Command("iperf3", "-c", "10.202.100.1", "-t", "5", "-J").Output()
		if err != nil {
			b.Fatalf("iperf3: %v\n%s", err, out)
		}
		var r struct {
			End struct {
				SumReceived struct {
					BitsPerSecond float64 `json:"bits_per_second"`
				} `json:"sum_received"`
			} `json:"end"`
		}
		if err := json.Unmarshal(out, &r); err != nil {
			b.Fatal(err)
		}
		childCall(b, fmt.Sprintf("result %f %f", r.End.SumReceived.BitsPerSecond/1e9, float64(hs.Microseconds())/1000))
		return
	}
	if inChildProcess() {
		b.Skip("not this child's benchmark")
	}
	tp := newTopo(b)
	if _, err := exec.LookPath("iperf3"); err != nil {
		b.Fatal("needs iperf3: run `make deps`")
	}
	srv := exec.Command("ip", "netns", "exec", tp.server, "iperf3", "-s", "-1", "-B", "10.202.100.1")
	if err := srv.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = srv.Process.Kill(); _ = srv.Wait() })
	time.Sleep(200 * time.Millisecond)
	priv := newKey(b)
	p := tp.startPeer(b, priv.Public())
	var gbps, ms float64
	tp.runChild(b, priv, p, func(msg string) string {
		f := strings.Fields(msg)
		if len(f) == 3 && f[0] == "result" {
			gbps, _ = strconv.ParseFloat(f[1], 64)
			ms, _ = strconv.ParseFloat(f[2], 64)
		}
		return "ok"
	})
	if gbps == 0 {
		b.Fatal("no result from the client half")
	}
	b.ReportMetric(gbps, "Gbit/s")
	b.ReportMetric(ms, "ms/handshake")
	b.ReportMetric(0, "ns/op")
}
