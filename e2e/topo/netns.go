//go:build linux

// Package topo builds the whole-system test world out of Linux network
// namespaces: a laptop, an "internet" router, and one or more node/cluster
// pairs, with addresses, routes, per-namespace resolv.conf, a test CA and the
// processes that run inside them. Everything it creates carries the gwe- prefix
// and a per-run suffix, and Close removes all of it (also after a failure).
package topo

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// Prefix starts the name of every namespace and /etc/netns directory this
// package creates; `make e2e-clean` removes whatever a killed run left behind.
const Prefix = "gwe-"

// NS is one network namespace made by this package.
type NS struct {
	// Name is the full namespace name (gwe-<role>-<suffix>).
	Name string
	// Role is the short name used in logs (laptop, node1, ...).
	Role string
}

func (n *NS) String() string { return n.Name }

// createNS makes a namespace with loopback up and, when resolv is not empty, a
// resolv.conf that `ip netns exec` bind-mounts over /etc/resolv.conf.
func createNS(name, role, resolv string) (*NS, error) {
	if out, err := run("ip", "netns", "add", name); err != nil {
		return nil, fmt.Errorf("create namespace %s: %v: %s", name, err, out)
	}
	ns := &NS{Name: name, Role: role}
	if _, err := ns.Run("ip", "link", "set", "lo", "up"); err != nil {
		return ns, err
	}
	if resolv != "" {
		dir := filepath.Join("/etc/netns", name)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return ns, fmt.Errorf("create %s: %w", dir, err)
		}
		if err := os.WriteFile(filepath.Join(dir, "resolv.conf"), []byte(resolv), 0o644); err != nil {
			return ns, fmt.Errorf("write resolv.conf for %s: %w", name, err)
		}
	}
	return ns, nil
}

// ResolvConfPath is the file `ip netns exec` shows as /etc/resolv.conf inside n.
func (n *NS) ResolvConfPath() string {
	return filepath.Join("/etc/netns", n.Name, "resolv.conf")
}

// Command returns a command that runs inside n (through `ip netns exec`, which
// also bind-mounts n's resolv.conf and a fresh /sys).
func (n *NS) Command(ctx context.Context, name string, args ...string) *exec.Cmd {
	full := append([]string{"netns", "exec", n.Name, name}, args...)
	if ctx == nil {
		return exec.Command("ip", full...)
	}
	return exec.CommandContext(ctx, "ip", full...)
}

// Run runs a short command inside n and returns its combined output; the error
// names the namespace, the command and its output.
func (n *NS) Run(name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := n.Command(ctx, name, args...).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("in %s: %s %s: %v: %s", n.Role, name, strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
	return string(out), nil
}

// MustRun is Run for setup steps: it collects the first error in *errp.
func (n *NS) mustRun(errp *error, name string, args ...string) {
	if *errp != nil {
		return
	}
	_, *errp = n.Run(name, args...)
}

// Sysctl sets a sysctl inside n (ip_forward and friends are per namespace).
func (n *NS) Sysctl(key, value string) error {
	_, err := n.Run("sysctl", "-q", "-w", key+"="+value)
	return err
}

// deleteNS kills whatever still runs in the namespace and removes it and its
// /etc/netns directory. Errors are returned joined; cleanup goes on regardless.
func deleteNS(name string) error {
	var errs []string
	if out, err := exec.Command("ip", "netns", "pids", name).Output(); err == nil {
		self := fmt.Sprint(os.Getpid())
		for _, pid := range strings.Fields(string(out)) {
			// This program shows up too while one of its threads is briefly
			// inside the namespace (DialContext): never kill ourselves.
			if pid != self {
				_ = exec.Command("kill", "-9", pid).Run()
			}
		}
	}
	if out, err := run("ip", "netns", "del", name); err != nil && !strings.Contains(out, "No such file") {
		errs = append(errs, fmt.Sprintf("delete namespace %s: %v: %s", name, err, out))
	}
	if err := os.RemoveAll(filepath.Join("/etc/netns", name)); err != nil {
		errs = append(errs, err.Error())
	}
	if len(errs) > 0 {
		return fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	return nil
}

// CleanStale removes every gwe-* namespace and /etc/netns/gwe-* directory left
// by runs that were killed before their cleanup ran. Only call it when no other
// e2e run is in progress (make e2e-clean).
func CleanStale() []string {
	var removed []string
	out, _ := exec.Command("ip", "netns", "list").Output()
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) > 0 && strings.HasPrefix(f[0], Prefix) {
			_ = deleteNS(f[0])
			removed = append(removed, f[0])
		}
	}
	dirs, _ := filepath.Glob("/etc/netns/" + Prefix + "*")
	for _, d := range dirs {
		_ = os.RemoveAll(d)
	}
	return removed
}

func run(name string, args ...string) (string, error) {
	out, err := exec.Command(name, args...).CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

// veth links a and b with a veth pair named ifA (in a) and ifB (in b). Names
// live inside our own namespaces, so they never meet other tests' links.
func veth(a *NS, ifA string, b *NS, ifB string) error {
	if out, err := run("ip", "-n", a.Name, "link", "add", ifA, "type", "veth", "peer", "name", ifB, "netns", b.Name); err != nil {
		return fmt.Errorf("veth %s/%s <-> %s/%s: %v: %s", a.Role, ifA, b.Role, ifB, err, out)
	}
	var err error
	a.mustRun(&err, "ip", "link", "set", ifA, "up")
	b.mustRun(&err, "ip", "link", "set", ifB, "up")
	return err
}
