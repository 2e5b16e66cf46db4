package filewatch

import (
	"context"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"
)

// A file replaced the way the kubelet updates a ConfigMap volume (a new
// directory, then the ..data symlink swapped) triggers a reload by event.
func TestWatchSeesSymlinkSwap(t *testing.T) {
	dir := t.TempDir()
	for _, v := range []string{"v1", "v2"} {
		os.Mkdir(filepath.Join(dir, v), 0o755)
		os.WriteFile(filepath.Join(dir, v, "deny"), []byte(v), 0o644)
	}
	os.Symlink("v1", filepath.Join(dir, "..data"))
	os.Symlink(filepath.Join("..data", "deny"), filepath.Join(dir, "deny"))
	file := filepath.Join(dir, "deny")

	var got atomic.Value
	got.Store("")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		Watch(ctx, []string{file}, time.Hour, nil, func(trigger string) { // events only: polling would hide a watch bug
			b, _ := os.ReadFile(file)
			got.Store(trigger + ":" + string(b))
		})
	}()
	time.Sleep(50 * time.Millisecond) // watcher installed
	os.Symlink("v2", filepath.Join(dir, "..data_tmp"))
	if err := os.Rename(filepath.Join(dir, "..data_tmp"), filepath.Join(dir, "..data")); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for got.Load() != "file change:v2" {
		if time.Now().After(deadline) {
			t.Fatalf("no reload after the swap (last %q)", got.Load())
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	<-done
}

func TestWatchPollsWithoutDirectory(t *testing.T) {
	var n atomic.Int32
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		Watch(ctx, []string{filepath.Join(t.TempDir(), "missing", "deny")}, 10*time.Millisecond, nil, func(trigger string) {
			if trigger == "poll" {
				n.Add(1)
			}
		})
	}()
	deadline := time.Now().Add(5 * time.Second)
	for n.Load() < 2 {
		if time.Now().After(deadline) {
			t.Fatal("no poll")
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	<-done
}
