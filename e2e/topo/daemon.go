//go:build linux

package topo

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/ghostwire/ghostwire/app/localapi"
)

// Daemon is the ghostwire daemon running on the laptop, with its socket and
// state in the run directory (so parallel runs never share them).
type Daemon struct {
	Proc   *Proc
	Socket string
	// StateDir holds the daemon's journal and profiles.
	StateDir string
	// Args are extra `ghostwire daemon` flags (set before Start).
	Args   []string
	t      *Topology
	starts int
}

// Env is the environment of the daemon and every CLI call: the socket lives
// in the run directory, so parallel runs never share a daemon.
func (d *Daemon) Env() []string {
	return []string{localapi.SocketEnv + "=" + d.Socket}
}

// InterfacePrefix names the laptop's tunnel interfaces; per run, because
// their UAPI sockets live in the machine-wide /var/run/wireguard.
func (d *Daemon) InterfacePrefix() string { return "gwe" + d.t.Suffix + "c" }

// NewDaemon prepares (but does not start) the laptop's daemon.
func (t *Topology) NewDaemon() *Daemon {
	return &Daemon{
		Socket:   filepath.Join(t.Dir, "ghostwire.sock"),
		StateDir: filepath.Join(t.Dir, "daemon-state"),
		t:        t,
	}
}

// Start runs `ghostwire daemon` in the laptop namespace and waits until its
// local API answers.
func (d *Daemon) Start(ctx context.Context) error {
	if err := os.MkdirAll(d.StateDir, 0o700); err != nil {
		return err
	}
	d.starts++
	// DNS in stub mode: the auto mode would find a host's systemd-resolved
	// over the machine-wide D-Bus and change the host's DNS, not the laptop's.
	args := append([]string{"daemon", "--state-dir", d.StateDir, "--interface-prefix", d.InterfacePrefix(), "--dns", "stub", "--log-level", "debug"}, d.Args...)
	p, err := d.t.Start(d.t.Laptop, "daemon", d.Env(), d.t.Bins.Client, args...)
	if err != nil {
		return err
	}
	d.Proc = p
	c := d.Client()
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	for {
		if _, err := c.Status(ctx); err == nil {
			return nil
		}
		if done, err := p.Exited(); done {
			return fmt.Errorf("ghostwire daemon exited (%v) before its socket answered; its log:\n%s", err, p.Tail(4000))
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("ghostwire daemon's socket %s did not answer within 20s; its log:\n%s", d.Socket, p.Tail(4000))
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Client is a local API client for the daemon.
func (d *Daemon) Client() *localapi.Client { return localapi.NewClient(d.Socket) }

// CLI runs `ghostwire args...` on the laptop and returns its combined output
// and exit error.
func (d *Daemon) CLI(ctx context.Context, args ...string) (string, error) {
	cmd := d.t.Laptop.Command(ctx, d.t.Bins.Client, args...)
	cmd.Env = append(os.Environ(), d.Env()...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// UpArgs are the arguments of `ghostwire up` for cluster c as profile.
func (d *Daemon) UpArgs(c *Cluster, profile string) []string { return d.upArgs(c.ServerURL(), profile) }

func (d *Daemon) upArgs(url, profile string) []string {
	args := []string{"up", url, "--ca-file", d.t.CA.CertFile, "--device-code"}
	if profile != "" {
		args = append(args, "--profile", profile)
	}
	return args
}

// UpResult is what `ghostwire up` did.
type UpResult struct {
	Output   string
	Err      error
	UserCode string
	Elapsed  time.Duration
}

// Up runs `ghostwire up` for cluster c. When the daemon asks a person to sign
// in, the device code is approved as user through the dev provider; with user
// "" a valid session is expected and a sign-in prompt is an error. onPrompt,
// when set, sees the prompt before approval (the demo prints it).
func (d *Daemon) Up(ctx context.Context, c *Cluster, profile, user string, onPrompt func(localapi.SignInPrompt)) UpResult {
	return d.UpURL(ctx, c.ServerURL(), profile, user, onPrompt)
}

// UpURL is Up for a server at url (an ingress in front of several replicas).
func (d *Daemon) UpURL(ctx context.Context, url, profile, user string, onPrompt func(localapi.SignInPrompt)) UpResult {
	ctx, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	cmd := d.t.Laptop.Command(ctx, d.t.Bins.Client, d.upArgs(url, profile)...)
	cmd.Env = append(os.Environ(), d.Env()...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return UpResult{Err: err}
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	type approval struct {
		code string
		err  error
	}
	approved := make(chan approval, 1)
	wctx, wcancel := context.WithCancel(ctx)
	defer wcancel()
	go func() {
		code, err := d.waitPrompt(wctx, profile, onPrompt)
		if err != nil {
			return // up ended without asking
		}
		if user == "" {
			approved <- approval{code, fmt.Errorf("the daemon asked to sign in again (code %s) although the session is valid", code)}
			return
		}
		approved <- approval{code, d.t.Approve(wctx, code, user)}
	}()
	res := UpResult{}
	for {
		select {
		case a := <-approved:
			res.UserCode = a.code
			if a.err != nil {
				_ = cmd.Process.Kill()
				<-done
				res.Err, res.Output, res.Elapsed = a.err, out.String(), time.Since(start)
				return res
			}
			continue
		case err := <-done:
			res.Err, res.Elapsed = err, time.Since(start)
			wcancel()
			select {
			case a := <-approved:
				res.UserCode = a.code
			default:
			}
			res.Output = out.String()
			return res
		}
	}
}

// waitPrompt watches the daemon's status until the profile shows a device
// code.
func (d *Daemon) waitPrompt(ctx context.Context, profile string, onPrompt func(localapi.SignInPrompt)) (string, error) {
	c := d.Client()
	for {
		st, err := c.Status(ctx)
		if err == nil {
			for _, p := range st.Profiles {
				if (profile == "" || p.Name == profile) && p.SignIn != nil && p.SignIn.UserCode != "" {
					if onPrompt != nil {
						onPrompt(*p.SignIn)
					}
					return p.SignIn.UserCode, nil
				}
			}
		}
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// Status returns the daemon's status (through the local API).
func (d *Daemon) Status(ctx context.Context) (localapi.Status, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	return d.Client().Status(ctx)
}

// WaitState waits until profile (or the only profile) is in state.
func (d *Daemon) WaitState(ctx context.Context, profile string, state localapi.State, timeout time.Duration) (localapi.Profile, error) {
	deadline := time.Now().Add(timeout)
	var last localapi.Profile
	for {
		st, err := d.Status(ctx)
		if err == nil {
			for _, p := range st.Profiles {
				if profile == "" || p.Name == profile {
					last = p
					if p.State == state {
						return p, nil
					}
				}
			}
		}
		if time.Now().After(deadline) {
			return last, fmt.Errorf("profile %q not %s within %s: state %s (%s)", profile, state, timeout, last.State, last.Reason)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// LaptopLinks lists the laptop's interface names.
func (t *Topology) LaptopLinks() []string {
	out, err := t.Laptop.Run("ip", "-o", "link", "show")
	if err != nil {
		return nil
	}
	var names []string
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) > 1 {
			names = append(names, strings.TrimSuffix(strings.SplitN(f[1], "@", 2)[0], ":"))
		}
	}
	return names
}

// LaptopRoutes is `ip route show` on the laptop (main table).
func (t *Topology) LaptopRoutes() string {
	out, _ := t.Laptop.Run("ip", "route", "show")
	return out
}

// Curl runs curl on the laptop (names resolved by the laptop's own resolver,
// as a person's curl would) and returns the body.
func (t *Topology) Curl(ctx context.Context, url string, maxTime time.Duration) (string, error) {
	cmd := t.Laptop.Command(ctx, "curl", "-sS", "--fail", "--max-time", fmt.Sprintf("%.1f", maxTime.Seconds()), url)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("curl %s: %v: %s", url, err, strings.TrimSpace(errb.String()))
	}
	return out.String(), nil
}
