//go:build linux

package topo

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Proc is a long-running process inside a namespace, with its output in a log
// file that is shown when a test fails.
type Proc struct {
	Name    string
	NS      *NS
	LogFile string
	cmd     *exec.Cmd
	done    chan struct{}
	mu      sync.Mutex
	exitErr error
	log     *os.File
}

// Start runs bin with args inside ns, output to dir/logs/<name>.log (appended,
// so a restarted process keeps its earlier lines). env adds to the environment.
// With detach the process outlives this program (DEMO_KEEP); otherwise it is
// killed when this program dies.
func (n *NS) Start(logDir, name string, env []string, detach bool, bin string, args ...string) (*Proc, error) {
	if err := os.MkdirAll(logDir, 0o755); err != nil {
		return nil, err
	}
	path := filepath.Join(logDir, name+".log")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(f, "=== %s: %s %s (in %s)\n", time.Now().Format(time.RFC3339Nano), bin, strings.Join(args, " "), n.Name)
	cmd := n.Command(nil, bin, args...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.Env = append(os.Environ(), env...)
	// Its own process group, killed with us if the test binary dies.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if detach {
		cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	}
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, fmt.Errorf("start %s in %s: %w", name, n.Role, err)
	}
	p := &Proc{Name: name, NS: n, LogFile: path, cmd: cmd, done: make(chan struct{}), log: f}
	go func() {
		err := cmd.Wait()
		p.mu.Lock()
		p.exitErr = err
		p.mu.Unlock()
		fmt.Fprintf(f, "=== %s: exited: %v\n", time.Now().Format(time.RFC3339Nano), err)
		f.Close()
		close(p.done)
	}()
	return p, nil
}

// Pid is the process id (`ip netns exec` execs the command, so it is the
// program's own pid).
func (p *Proc) Pid() int { return p.cmd.Process.Pid }

// Exited reports whether the process has ended, and how.
func (p *Proc) Exited() (bool, error) {
	select {
	case <-p.done:
		p.mu.Lock()
		defer p.mu.Unlock()
		return true, p.exitErr
	default:
		return false, nil
	}
}

// Signal sends sig to the process.
func (p *Proc) Signal(sig syscall.Signal) error {
	if done, _ := p.Exited(); done {
		return fmt.Errorf("%s has already exited", p.Name)
	}
	return p.cmd.Process.Signal(sig)
}

// Stop asks the process to end (SIGTERM), waits up to grace, then kills it.
// A process stopped with SIGSTOP is continued first so it can exit cleanly.
func (p *Proc) Stop(grace time.Duration) {
	if done, _ := p.Exited(); done {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	_ = p.cmd.Process.Signal(syscall.SIGCONT)
	select {
	case <-p.done:
	case <-time.After(grace):
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		<-p.done
	}
}

// Kill ends the process with SIGKILL at once (a crash) and waits for it.
func (p *Proc) Kill() {
	if done, _ := p.Exited(); done {
		return
	}
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	<-p.done
}

// Wait waits for the process to end by itself, up to timeout.
func (p *Proc) Wait(timeout time.Duration) error {
	select {
	case <-p.done:
		p.mu.Lock()
		defer p.mu.Unlock()
		return p.exitErr
	case <-time.After(timeout):
		return errors.New(p.Name + " still running after " + timeout.String())
	}
}

// Tail returns the last max bytes of the process log.
func (p *Proc) Tail(max int) string { return tailFile(p.LogFile, max) }

func tailFile(path string, max int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("(cannot read %s: %v)", path, err)
	}
	if len(b) > max {
		b = append([]byte("...\n"), b[len(b)-max:]...)
	}
	return string(b)
}
