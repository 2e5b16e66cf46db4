//go:build linux

// Command demo shows ghostwire end to end on one Linux machine, as root: it
// builds a laptop, an "internet" and a Kubernetes-like cluster out of network
// namespaces, runs the real ghostwire-server, the built-in development
// OpenID provider, a real CoreDNS and the ghostwire daemon, signs in, and runs
// the curls a person would. `make demo` runs it; DEMO_KEEP=1 leaves it all up.
package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/ghostwire/ghostwire/app/localapi"
	"github.com/ghostwire/ghostwire/e2e/helper"
	"github.com/ghostwire/ghostwire/e2e/topo"
)

func main() {
	helper.Main() // re-executed as a helper inside a namespace: never returns
	keep := os.Getenv("DEMO_KEEP") == "1"
	if err := run(keep); err != nil {
		fmt.Fprintf(os.Stderr, "\n%sdemo failed:%s %v\n", red, reset, err)
		os.Exit(1)
	}
}

const (
	bold  = "\033[1m"
	dim   = "\033[2m"
	green = "\033[32m"
	red   = "\033[31m"
	reset = "\033[0m"
)

func step(format string, a ...any) {
	fmt.Printf("\n%s==> %s%s\n", bold, fmt.Sprintf(format, a...), reset)
}

func say(format string, a ...any) { fmt.Printf("    "+format+"\n", a...) }

func show(cmd, out string) {
	fmt.Printf("    %s$ %s%s\n", green, cmd, reset)
	for _, l := range strings.Split(strings.TrimRight(out, "\n"), "\n") {
		fmt.Printf("    %s%s%s\n", dim, l, reset)
	}
}

func bins() (topo.Bins, error) {
	dir := os.Getenv("GWE_BIN_DIR")
	if dir == "" {
		dir = "bin"
	}
	dir, _ = filepath.Abs(dir)
	self, err := os.Executable()
	if err != nil {
		return topo.Bins{}, err
	}
	b := topo.Bins{
		Server:  filepath.Join(dir, "ghostwire-server"),
		Client:  filepath.Join(dir, "ghostwire"),
		CoreDNS: os.Getenv("GWE_COREDNS"),
		Helper:  self,
	}
	if b.CoreDNS == "" {
		if p, err := exec.LookPath("coredns"); err == nil {
			b.CoreDNS = p
		}
	}
	for _, p := range []string{b.Server, b.Client, b.CoreDNS} {
		if _, err := os.Stat(p); err != nil || p == "" {
			return b, fmt.Errorf("%q is missing: run `make demo` (it builds ghostwire and installs CoreDNS)", p)
		}
	}
	return b, nil
}

func run(keep bool) error {
	if os.Geteuid() != 0 {
		return fmt.Errorf("the demo creates network namespaces and TUN devices: run it as root (sudo make demo)")
	}
	start := time.Now()
	b, err := bins()
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "gwe-demo-")
	if err != nil {
		return err
	}
	ctx := context.Background()

	step("Building a small world out of network namespaces")
	tp, err := topo.New(topo.Options{Dir: dir, Clusters: 1, Bins: b, Detach: keep})
	if err != nil {
		return err
	}
	if !keep {
		defer func() {
			step("Tearing down")
			tp.Close()
			os.RemoveAll(dir)
			say("removed every namespace, process and file the demo made (%s in total)", time.Since(start).Round(100*time.Millisecond))
		}()
	}
	c := tp.Clusters[0]
	say("laptop   %-22s its own DNS at %s (the home router)", tp.Laptop.Name, tp.InternetDNS)
	say("internet %-22s routes the laptop to the cluster's public address, nothing private", tp.Inet.Name)
	say("node     %-22s runs ghostwire-server at %s (HTTPS API) and UDP %d (WireGuard)", c.Node.Name, c.ServerURL(), c.WireGuardUDP)
	say("cluster  %-22s pods %s, services %s", c.Cluster.Name, c.PodCIDR, c.ServiceCIDR)

	step("Starting the cluster's services: CoreDNS (real) and prometheus")
	if err := tp.StartServices(ctx); err != nil {
		return err
	}
	say("CoreDNS at %s serves *.svc.%s, forwards the rest, and (AKS coredns-custom) maps %s to the ingress at %s", c.DNS, c.Domain, c.IngressHost, c.Ingress)
	say("prometheus.monitoring.svc.%s = %s, answering /metrics", c.Domain, c.Prometheus)
	out, _ := tp.Curl(ctx, "http://"+c.Prometheus.String()+"/metrics", 2*time.Second)
	if out == "" {
		out = "(no answer: the laptop cannot reach the cluster yet, as it should be)"
	}
	show("curl --max-time 2 http://"+c.Prometheus.String()+"/metrics   # from the laptop, before ghostwire", out)

	step("Starting the built-in development OpenID provider (ghostwire-server dev-idp)")
	if _, err := tp.StartIdP(ctx); err != nil {
		return err
	}
	say("issuer %s with users %s (allowed), %s (no role), %s", tp.IdPURL(), topo.UserDemo, topo.UserGuest, topo.UserAdmin)

	step("Starting ghostwire-server on the node")
	if _, err := tp.StartServer(ctx, c, topo.ServerOptions{}); err != nil {
		return err
	}
	say("its WireGuard key was made in memory just now and is never written anywhere")

	step("Starting the ghostwire daemon on the laptop")
	d := tp.NewDaemon()
	if err := d.Start(ctx); err != nil {
		return err
	}
	say("it listens on %s for the CLI and the tray", d.Socket)

	cmdline := "ghostwire " + strings.Join(d.UpArgs(c, ""), " ")
	step("Connecting: %s", cmdline)
	res := d.Up(ctx, c, "", topo.UserDemo, func(p localapi.SignInPrompt) {
		say("the daemon asks to sign in: open %s and enter the code %s", p.VerificationURI, p.UserCode)
		say("signing in as %s of the built-in provider (the demo approves the code for you)", topo.UserDemo)
	})
	show(cmdline, res.Output)
	if res.Err != nil {
		return fmt.Errorf("ghostwire up: %v", res.Err)
	}
	p, err := d.WaitState(ctx, "", localapi.StateConnected, 15*time.Second)
	if err != nil {
		return err
	}
	say("connected as %s with address %s in %s", p.User, p.Address, res.Elapsed.Round(time.Millisecond))
	say("routes into the tunnel: %s", strings.Join(p.Routes, ", "))
	say("cluster DNS %s answers only %s; search %s", strings.Join(p.DNSServers, ", "), strings.Join(p.MatchDomains, ", "), strings.Join(p.SearchDomains, " "))
	routes, _ := tp.Laptop.Run("ip", "route")
	show("ip route", routes)
	resolv, _ := tp.Laptop.Run("cat", "/etc/resolv.conf")
	show("cat /etc/resolv.conf", resolv)

	step("Using the cluster from the laptop")
	for _, u := range []string{"http://prometheus.monitoring/metrics", "http://prometheus/metrics", "http://" + c.IngressHost + "/"} {
		out, err := tp.Curl(ctx, u, 5*time.Second)
		if err != nil {
			return err
		}
		show("curl "+u, out)
	}
	for _, n := range []string{c.IngressHost, "www.example.org", "printer.home.example.org"} {
		out, err := tp.Laptop.Run("getent", "hosts", n)
		if err != nil {
			return err
		}
		show("getent hosts "+n, out)
	}
	say("cluster names go to the cluster's CoreDNS; everything else still to the laptop's own DNS")

	step("ghostwire status")
	out, err = d.CLI(ctx, "status")
	show("ghostwire status", out)
	if err != nil {
		return fmt.Errorf("ghostwire status: %v", err)
	}

	if keep {
		step("Kept running (DEMO_KEEP=1). Play with it:")
		say("sudo ip netns exec %s bash", tp.Laptop.Name)
		say("  export %s", strings.Join(d.Env(), " "))
		say("  curl http://prometheus/metrics; %s status; %s down; %s up %s --ca-file %s --device-code",
			b.Client, b.Client, b.Client, c.ServerURL(), tp.CA.CertFile)
		say("approve a sign-in code: curl --cacert %s -d '{\"user_code\":\"CODE\",\"user\":\"demo@example.com\"}' %s/dev/approve   # from the laptop namespace", tp.CA.CertFile, tp.IdPURL())
		say("logs: %s", tp.LogDir)
		say("when done: sudo make demo-clean")
		return nil
	}

	step("Disconnecting: ghostwire down")
	out, err = d.CLI(ctx, "down")
	show("ghostwire down", out)
	if err != nil {
		return fmt.Errorf("ghostwire down: %v", err)
	}
	after, _ := os.ReadFile(tp.Laptop.ResolvConfPath())
	if string(after) == string(tp.LaptopResolvConf) {
		say("resolv.conf is byte-for-byte what it was before; routes and the interface are gone")
	} else {
		say("%sresolv.conf differs from before:%s\n%s", red, reset, after)
	}
	return nil
}
