package osevents

import (
	"context"
	"testing"
	"time"

	"github.com/ghostwire/ghostwire/app/engine"
)

// Under Wine every source registers (Wine delivers no events: it has no
// sleep and no network changes to report); the resume dispatch is driven
// by calling the callback as Windows would. Real sleeps and Wi-Fi changes
// are verified only on a laptop (docs/windows.md).
func TestWindowsWatchRegistersAndDispatchesResume(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	ch := make(chan engine.Event, 8)
	if err := Watch(ctx, Options{Debounce: 50 * time.Millisecond}, func(e engine.Event) { ch <- e }); err != nil {
		t.Fatalf("every Windows source must start: %v", err)
	}
	power.mu.Lock()
	var ids []uintptr
	for id := range power.watchers {
		ids = append(ids, id)
	}
	power.mu.Unlock()
	if len(ids) != 1 {
		t.Fatalf("power watchers %v", ids)
	}
	powerEvent(ids[0], pbtSuspend, 0)
	powerEvent(ids[0], pbtResumeAutomatic, 0)
	powerEvent(ids[0], pbtResumeSuspend, 0) // the same wake, told twice
	select {
	case e := <-ch:
		if e != engine.EventWake {
			t.Fatalf("got %v, want a wake", e)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no wake")
	}
	select {
	case e := <-ch:
		t.Fatalf("one wake, told twice, must be one event: got %v", e)
	case <-time.After(300 * time.Millisecond):
	}
	cancel()
	deadline := time.Now().Add(5 * time.Second)
	for {
		power.mu.Lock()
		n := len(power.watchers)
		power.mu.Unlock()
		if n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the power watcher outlived its context")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
