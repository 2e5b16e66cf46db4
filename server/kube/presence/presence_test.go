package presence

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"
	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/ghostwire/ghostwire/internal/kubetest"
	"github.com/ghostwire/ghostwire/server/kube/records"
)

func TestMain(m *testing.M) { kubetest.Main(m) }

type member struct {
	p      *Presence
	key    wgtypes.Key
	cancel context.CancelFunc
	ready  atomic.Value // string: why not ready; "" ready
}

func join(t *testing.T, c *records.Client, name string, lease time.Duration) *member {
	t.Helper()
	k, _ := wgtypes.GeneratePrivateKey()
	m := &member{key: k.PublicKey()}
	ctx, cancel := context.WithCancel(context.Background())
	m.cancel = cancel
	t.Cleanup(cancel)
	var err error
	m.p, err = Start(ctx, Options{Client: c, Name: name, PublicKey: m.key, Lease: lease,
		Endpoint: func() (string, error) { return "192.0.2.1:51820", nil },
		Ready: func() error {
			if why, _ := m.ready.Load().(string); why != "" {
				return errors.New(why)
			}
			return nil
		},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func eventually(t *testing.T, what string, within time.Duration, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		ok, last := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s; last: %s", within, what, last)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func names(rs []Replica) string {
	s := ""
	for _, r := range rs {
		s += fmt.Sprintf("%s(ready=%v) ", r.Name, r.Ready)
	}
	return s
}

// Replicas see each other within a renewal; one that stops renewing (killed)
// is gone after its lease; one that shuts down is gone at once; a replica
// not ready is live (it votes) but not offered to clients.
func TestHAReplicasSeeEachOther(t *testing.T) {
	api := kubetest.Shared(t)
	ns := api.Namespace(t, "pr")
	c, err := records.NewClient(api.ServerAccount(t, ns), ns)
	if err != nil {
		t.Fatal(err)
	}
	lease := 3 * time.Second
	a, b, d := join(t, c, "gw-a", lease), join(t, c, "gw-b", lease), join(t, c, "gw-d", lease)
	eventually(t, "a seeing b and d", 10*time.Second, func() (bool, string) {
		live := a.p.Live(true)
		return len(live) == 3 && live[0].Name == "gw-a" && live[1].Name == "gw-b" && live[1].PublicKey == b.key && live[1].Endpoint == "192.0.2.1:51820", names(live)
	})
	// b is not ready: still live (LiveNames), no longer offered to clients.
	b.ready.Store("issuer unreachable")
	eventually(t, "b no longer offered", 10*time.Second, func() (bool, string) {
		return len(a.p.Live(true)) == 2 && a.p.LiveNames()["gw-b"], names(a.p.Live(false))
	})
	b.ready.Store("")
	// d is killed: gone from a's view after its lease, not before a renewal's worth.
	d.cancel()
	killed := time.Now()
	eventually(t, "d gone after its lease", 3*lease, func() (bool, string) { return !a.p.LiveNames()["gw-d"], names(a.p.Live(false)) })
	if took := time.Since(killed); took < lease/2 {
		t.Errorf("a killed replica was dropped after %v, before its lease (%v) could have ended", took, lease)
	}
	// b shuts down: gone at once.
	if err := b.p.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	eventually(t, "b gone at once", 2*time.Second, func() (bool, string) { return !a.p.LiveNames()["gw-b"], names(a.p.Live(false)) })
	// d's record, never deleted by d, is cleared away by a after four leases.
	eventually(t, "d's record collected", 6*lease, func() (bool, string) {
		_, err := c.GetReplica(context.Background(), "gw-d")
		return apierrors.IsNotFound(err), fmt.Sprint(err)
	})
}

// A replica restarting under its old name (a StatefulSet pod) takes its
// record over with its new key.
func TestHARestartTakesTheRecordOver(t *testing.T) {
	api := kubetest.Shared(t)
	ns := api.Namespace(t, "pr")
	c, err := records.NewClient(api.ServerAccount(t, ns), ns)
	if err != nil {
		t.Fatal(err)
	}
	a := join(t, c, "gw-a", 3*time.Second)
	old := join(t, c, "gw-b", 3*time.Second)
	eventually(t, "the first gw-b", 10*time.Second, func() (bool, string) { return a.p.LiveNames()["gw-b"], "" })
	old.cancel() // killed: its record stays
	fresh := join(t, c, "gw-b", 3*time.Second)
	eventually(t, "gw-b with its new key", 10*time.Second, func() (bool, string) {
		for _, r := range a.p.Live(true) {
			if r.Name == "gw-b" && r.PublicKey == fresh.key {
				return true, ""
			}
		}
		return false, names(a.p.Live(true))
	})
}
