//go:build linux

package topo

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"time"
)

// HelperEnv selects the helper a Bins.Helper program runs (see e2e/helper).
const HelperEnv = "GWE_HELPER"

// StartServices starts the internet DNS, and per cluster its CoreDNS (with the
// AKS coredns-custom override for the ingress hostname), the prometheus
// service and the ingress, and waits until each answers.
func (t *Topology) StartServices(ctx context.Context) error {
	if t.Bins.CoreDNS == "" {
		return fmt.Errorf("no CoreDNS binary: set GWE_COREDNS or run `make deps` (it installs coredns with go install)")
	}
	// The internet's DNS: what the laptop asks for everything outside the cluster.
	// home.example.org is the laptop's home network: only addresses on the
	// laptop's link may ask (acl), so an answer proves the query went through
	// the laptop's own DNS and not through the cluster's forwarder.
	inetCorefile := fmt.Sprintf(`home.example.org:53 {
    bind %s
    errors
    acl {
        allow net 192.0.2.0/24
        block
    }
    hosts {
        %s printer.home.example.org
    }
}
example.org:53 example.com:53 {
    bind %s
    errors
    hosts {
%s    }
}
.:53 {
    bind %s
    errors
}
`, t.InternetDNS, HomePrinter, t.InternetDNS, hostsLines(map[string]netip.Addr{
		"www.example.org":              PublicWeb,
		"grafana.internal.example.com": PublicIngress,
	}), t.InternetDNS)
	if err := t.startCoreDNS(t.Inet, "coredns-internet", inetCorefile); err != nil {
		return err
	}
	for _, c := range t.Clusters {
		if err := t.startClusterServices(c); err != nil {
			return err
		}
	}
	wctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if _, err := LookupUntil(wctx, t.Laptop, net.JoinHostPort(t.InternetDNS.String(), "53"), "www.example.org"); err != nil {
		return fmt.Errorf("internet DNS did not come up: %w", err)
	}
	for _, c := range t.Clusters {
		dns := net.JoinHostPort(c.DNS.String(), "53")
		if _, err := LookupUntil(wctx, c.Node, dns, "prometheus.monitoring.svc."+c.Domain); err != nil {
			return fmt.Errorf("%s CoreDNS did not come up: %w", c.Name, err)
		}
		if _, err := LookupUntil(wctx, c.Node, dns, "www.example.org"); err != nil {
			return fmt.Errorf("%s CoreDNS does not forward to the internet DNS: %w", c.Name, err)
		}
		for _, a := range []netip.Addr{c.Prometheus, c.Ingress} {
			if err := WaitTCP(wctx, c.Node, net.JoinHostPort(a.String(), "80")); err != nil {
				return fmt.Errorf("%s service: %w", c.Name, err)
			}
		}
	}
	return nil
}

func (t *Topology) startClusterServices(c *Cluster) error {
	dir := filepath.Join(t.Dir, "coredns-"+c.Name)
	custom := filepath.Join(dir, "custom")
	if err := os.MkdirAll(custom, 0o755); err != nil {
		return err
	}
	// AKS's coredns-custom ConfigMap: *.override files are imported into the
	// main server block; here an ingress hostname points at the ingress' cluster IP.
	override := fmt.Sprintf("hosts {\n    %s %s\n    fallthrough\n}\n", c.Ingress, c.IngressHost)
	if err := os.WriteFile(filepath.Join(custom, "ingress.override"), []byte(override), 0o644); err != nil {
		return err
	}
	svc := "svc." + c.Domain
	corefile := fmt.Sprintf(`%s:53 {
    bind %s
    errors
    hosts {
%s        ttl 5
    }
}
.:53 {
    bind %s
    errors
    import %s/*.override
    forward . %s:53
    cache 5
}
`, c.Domain, c.DNS, hostsLines(map[string]netip.Addr{
		"prometheus.monitoring." + svc:                        c.Prometheus,
		c.OnlyHere():                                          c.Prometheus,
		"kube-dns.kube-system." + svc:                         c.DNS,
		"ingress-nginx-controller.ingress-nginx." + svc:       c.Ingress,
		"ghostwire.ghostwire." + svc:                          c.NodePod,
		fmt.Sprintf("%s.pod.%s", dashed(c.NodePod), c.Domain): c.NodePod,
	}), c.DNS, custom, t.InternetDNS)
	if err := os.WriteFile(filepath.Join(dir, "Corefile"), []byte(corefile), 0o644); err != nil {
		return err
	}
	if _, err := t.Start(c.Cluster, "coredns-"+c.Name, nil, t.Bins.CoreDNS, "-conf", filepath.Join(dir, "Corefile")); err != nil {
		return err
	}
	body := fmt.Sprintf("# HELP gwe_cluster_info Which test cluster answered.\n# TYPE gwe_cluster_info gauge\ngwe_cluster_info{cluster=%q} 1\n", c.Name)
	if _, err := t.StartHelper(c.Cluster, "prometheus-"+c.Name, "http", "--listen", net.JoinHostPort(c.Prometheus.String(), "80"), "--path", "/metrics", "--body", body); err != nil {
		return err
	}
	if _, err := t.StartHelper(c.Cluster, "ingress-"+c.Name, "http", "--listen", net.JoinHostPort(c.Ingress.String(), "80"), "--path", "/", "--body", fmt.Sprintf("ingress of %s: grafana\n", c.Name)); err != nil {
		return err
	}
	return nil
}

// StartHelper runs one of the e2e helpers (http, wg) inside ns.
func (t *Topology) StartHelper(ns *NS, name, helper string, args ...string) (*Proc, error) {
	if t.Bins.Helper == "" {
		return nil, fmt.Errorf("no helper program configured")
	}
	return t.Start(ns, name, []string{HelperEnv + "=" + helper}, t.Bins.Helper, args...)
}

func (t *Topology) startCoreDNS(ns *NS, name, corefile string) error {
	dir := filepath.Join(t.Dir, name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	path := filepath.Join(dir, "Corefile")
	if err := os.WriteFile(path, []byte(corefile), 0o644); err != nil {
		return err
	}
	_, err := t.Start(ns, name, nil, t.Bins.CoreDNS, "-conf", path)
	return err
}

func dashed(a netip.Addr) string {
	b := a.As4()
	return fmt.Sprintf("%d-%d-%d-%d", b[0], b[1], b[2], b[3])
}
