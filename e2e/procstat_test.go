//go:build linux

package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ghostwire/ghostwire/e2e/topo"
)

// What the benchmarks read about a running process from /proc, and where
// they let it run.

// cpuTime is the user + system CPU time p has used so far (/proc/<pid>/stat,
// in clock ticks of 10 ms: USER_HZ is 100 on Linux).
func cpuTime(tb testing.TB, p *topo.Proc) time.Duration {
	tb.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.Pid()))
	if err != nil {
		tb.Fatalf("CPU time of %s: %v", p.Name, err)
	}
	// The command name (field 2) may hold spaces: count from its ")".
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 13 {
		tb.Fatalf("CPU time of %s: unreadable %q", p.Name, s)
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64) // field 14
	stime, err2 := strconv.ParseInt(f[12], 10, 64) // field 15
	if err1 != nil || err2 != nil {
		tb.Fatalf("CPU time of %s: unreadable %q", p.Name, s)
	}
	return time.Duration(utime+stime) * 10 * time.Millisecond
}

// switches counts p's context switches so far, over all its threads.
func switches(tb testing.TB, p *topo.Proc) int64 {
	tb.Helper()
	files, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/status", p.Pid()))
	var n int64
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue // the thread ended
		}
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.HasSuffix(k, "ctxt_switches") {
				c, _ := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
				n += c
			}
		}
	}
	if len(files) == 0 {
		tb.Fatalf("threads of %s: none (did it exit?)", p.Name)
	}
	return n
}

// setAffinity applies set to every thread of p; threads it starts later
// inherit it from the thread that starts them.
func setAffinity(tb testing.TB, p *topo.Proc, set *unix.CPUSet) {
	tb.Helper()
	tasks, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*", p.Pid()))
	if err != nil || len(tasks) == 0 {
		tb.Fatalf("threads of %s: %v", p.Name, err)
	}
	for _, t := range tasks {
		tid, _ := strconv.Atoi(filepath.Base(t))
		if err := unix.SchedSetaffinity(tid, set); err != nil && err != unix.ESRCH { // ESRCH: the thread ended
			tb.Fatalf("pin %s (thread %d): %v", p.Name, tid, err)
		}
	}
}

// allowedCPUs are the cores this process may run on.
func allowedCPUs(tb testing.TB) []int {
	tb.Helper()
	var set unix.CPUSet
	if err := unix.SchedGetaffinity(0, &set); err != nil {
		tb.Fatalf("cores this process may use: %v", err)
	}
	var cpus []int
	for c := 0; c < len(set)*64 && len(cpus) < set.Count(); c++ {
		if set.IsSet(c) {
			cpus = append(cpus, c)
		}
	}
	return cpus
}
