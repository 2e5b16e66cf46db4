package tunnel

import (
	"os"
	"testing"
	"time"

	"golang.zx2c4.com/wireguard/tun"
)

// fakeTUN returns n packets per Read.
type fakeTUN struct{ n int }

func (f *fakeTUN) File() *os.File { return nil }
func (f *fakeTUN) Read(bufs [][]byte, sizes []int, offset int) (int, error) {
	return f.n, nil
}
func (f *fakeTUN) Write(bufs [][]byte, offset int) (int, error) { return len(bufs), nil }
func (f *fakeTUN) MTU() (int, error)                            { return 1420, nil }
func (f *fakeTUN) Name() (string, error)                        { return "fake0", nil }
func (f *fakeTUN) Events() <-chan tun.Event                     { return nil }
func (f *fakeTUN) Close() error                                 { return nil }
func (f *fakeTUN) BatchSize() int                               { return 1 }

func signalled(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	case <-time.After(20 * time.Millisecond):
		return false
	}
}

func TestOutgoingSignalsOncePerArm(t *testing.T) {
	f := &fakeTUN{n: 1}
	o := newOutgoing(f)
	read := func() { _, _ = o.Read(make([][]byte, 1), make([]int, 1), 0) }

	read() // not armed: nobody is told
	ch := o.arm()
	if signalled(ch) {
		t.Fatal("a packet read before arm must not signal")
	}
	read()
	read()
	if !signalled(ch) {
		t.Fatal("the first packet after arm must signal")
	}
	read()
	if signalled(ch) {
		t.Fatal("one arm, one signal")
	}

	// A signal nobody took is dropped by the next arm.
	_ = o.arm()
	read()
	ch = o.arm()
	if signalled(ch) {
		t.Fatal("a stale signal woke the new waiter")
	}

	// An empty read (no packet) is not traffic.
	f.n = 0
	read()
	if signalled(ch) {
		t.Fatal("an empty read signalled")
	}
}
