package service

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"testing"
	"time"
)

type reports struct {
	mu sync.Mutex
	s  []status
	ch chan status
}

func newReports() *reports { return &reports{ch: make(chan status, 100)} }

func (r *reports) add(s status) {
	r.mu.Lock()
	r.s = append(r.s, s)
	r.mu.Unlock()
	r.ch <- s
}

// waitFor returns once a report of state st arrived.
func (r *reports) waitFor(t *testing.T, st state) {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case s := <-r.ch:
			if s.State == st {
				return
			}
		case <-timeout:
			t.Fatalf("no report of state %d", st)
		}
	}
}

// logged is a slog handler that hands each message on.
type logged chan string

func (l logged) Enabled(context.Context, slog.Level) bool      { return true }
func (l logged) Handle(_ context.Context, r slog.Record) error { l <- r.Message; return nil }
func (l logged) WithAttrs([]slog.Attr) slog.Handler            { return l }
func (l logged) WithGroup(string) slog.Handler                 { return l }

func newMachine(body Runner, r *reports) *machine {
	return &machine{body: body, report: r.add, log: slog.New(slog.DiscardHandler), tick: 5 * time.Millisecond}
}

// Stop: the body's context ends, the manager hears stop-pending with growing
// checkpoints until the body has brought everything down, and the exit is clean.
func TestServiceStopsTheBody(t *testing.T) {
	for _, req := range []request{reqStop, reqPreShutdown, reqShutdown} {
		r := newReports()
		release := make(chan struct{})
		cleaned := false
		m := newMachine(func(ctx context.Context) error {
			<-ctx.Done()
			<-release // tunnels coming down, peers being removed
			cleaned = true
			return nil
		}, r)
		reqs := make(chan request, 1)
		type result struct {
			code uint32
			err  error
		}
		res := make(chan result, 1)
		go func() { code, err := m.run(reqs); res <- result{code, err} }()
		r.waitFor(t, stateRunning)
		reqs <- req
		r.waitFor(t, stateStopPending)
		r.waitFor(t, stateStopPending) // more checkpoints while the body works
		close(release)
		got := <-res
		if got.code != 0 || got.err != nil || !cleaned {
			t.Fatalf("%s: exit %d, %v, cleaned %v", req, got.code, got.err, cleaned)
		}
		r.mu.Lock()
		var last uint32
		for _, s := range r.s {
			if s.State == stateStopPending {
				if s.Checkpoint <= last || s.WaitHint == 0 {
					t.Fatalf("%s: checkpoints must grow with a wait hint: %+v", req, r.s)
				}
				last = s.Checkpoint
			}
		}
		if r.s[0].State != stateStartPending || r.s[1].State != stateRunning {
			t.Fatalf("%s: first reports %+v", req, r.s[:2])
		}
		r.mu.Unlock()
	}
}

// The daemon failing by itself ends the service with a non-zero code, so
// that the recovery actions restart it; interrogate and power events are
// answered without stopping anything.
func TestServiceBodyFailsAndPowerEvents(t *testing.T) {
	r := newReports()
	fail := make(chan error)
	logs := make(logged, 16)
	m := newMachine(func(ctx context.Context) error { return <-fail }, r)
	m.log = slog.New(logs)
	reqs := make(chan request, 4)
	type result struct {
		code uint32
		err  error
	}
	res := make(chan result, 1)
	go func() { code, err := m.run(reqs); res <- result{code, err} }()
	r.waitFor(t, stateRunning)
	reqs <- reqInterrogate
	r.waitFor(t, stateRunning)
	reqs <- reqSuspend
	reqs <- reqResume
	for timeout := time.After(5 * time.Second); ; {
		select {
		case msg := <-logs:
			if msg != "the service manager reports the machine resumed" {
				continue
			}
		case <-timeout:
			t.Fatal("resume not logged")
		}
		break
	}
	boom := errors.New("the local API stopped")
	fail <- boom
	got := <-res
	if got.code == 0 || !errors.Is(got.err, boom) {
		t.Fatalf("a failed daemon: exit %d, %v", got.code, got.err)
	}
	if reqStop.String() != "stop" || request(99).String() != "unknown" {
		t.Fatal("request names")
	}
}
