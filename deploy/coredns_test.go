package deploy

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/client-go/kubernetes/scheme"
)

// coreDNS finds the CoreDNS binary `make deps` installs (e2e pins it).
func coreDNS(t *testing.T) string {
	t.Helper()
	candidates := []string{os.Getenv("GWE_COREDNS")}
	if p, err := exec.LookPath("coredns"); err == nil {
		candidates = append(candidates, p)
	}
	if out, err := exec.Command("go", "env", "GOPATH").Output(); err == nil {
		candidates = append(candidates, filepath.Join(strings.TrimSpace(string(out)), "bin", "coredns"))
	}
	for _, c := range candidates {
		if fi, err := os.Stat(c); c != "" && err == nil && !fi.IsDir() {
			return c
		}
	}
	if testing.Short() {
		t.Skip("no coredns binary (make deps installs it); this test runs in the full pass")
	}
	t.Fatal("no coredns binary: run make deps (go install github.com/coredns/coredns@v1.15.0) or set GWE_COREDNS")
	return ""
}

// TestCoreDNSCustomExample serves examples/coredns-custom.yaml with a real
// CoreDNS the way AKS does (the ConfigMap's *.override keys imported into
// the main server block) and checks the override answers and everything else
// falls through.
func TestCoreDNSCustomExample(t *testing.T) {
	y, err := os.ReadFile("examples/coredns-custom.yaml")
	if err != nil {
		t.Fatal(err)
	}
	codecs := serializer.NewCodecFactory(scheme.Scheme, serializer.EnableStrict)
	obj, _, err := codecs.UniversalDeserializer().Decode(y, nil, nil)
	if err != nil {
		t.Fatalf("the example does not decode strictly: %v", err)
	}
	cm, ok := obj.(*corev1.ConfigMap)
	if !ok || cm.Name != "coredns-custom" || cm.Namespace != "kube-system" {
		t.Fatalf("AKS only reads the ConfigMap kube-system/coredns-custom, got %T %s/%s", obj, cm.Namespace, cm.Name)
	}
	bin := coreDNS(t)

	dir := t.TempDir()
	custom := filepath.Join(dir, "custom")
	if err := os.Mkdir(custom, 0o755); err != nil {
		t.Fatal(err)
	}
	var overrides int
	for k, v := range cm.Data {
		if strings.HasSuffix(k, ".override") {
			overrides++
			if err := os.WriteFile(filepath.Join(custom, k), []byte(v), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	if overrides == 0 {
		t.Fatal("the example has no *.override key, so AKS would import nothing")
	}
	port := freeUDPPort(t)
	// AKS's main block ends in forward to the node's resolvers; a zone file
	// (the file plugin runs after hosts) stands in for them, so nothing leaves
	// loopback and a name the override passes on gets a recognisable answer.
	zone := "$ORIGIN example.com.\n@ 60 IN SOA ns.example.com. admin.example.com. 1 60 60 60 60\n" +
		"@ 60 IN NS ns.example.com.\nns 60 IN A 192.0.2.53\nwww 60 IN A 192.0.2.80\n"
	if err := os.WriteFile(filepath.Join(dir, "example.com.zone"), []byte(zone), 0o644); err != nil {
		t.Fatal(err)
	}
	corefile := fmt.Sprintf(".:%d {\n    bind 127.0.0.1\n    errors\n    import %s/*.override\n    file %s example.com\n}\n",
		port, custom, filepath.Join(dir, "example.com.zone"))
	if err := os.WriteFile(filepath.Join(dir, "Corefile"), []byte(corefile), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, "-conf", filepath.Join(dir, "Corefile"))
	var logs strings.Builder
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("coredns output:\n%s", logs.String())
		}
	})

	r := &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "udp", fmt.Sprintf("127.0.0.1:%d", port))
	}}
	lookup := func(name string) ([]string, error) {
		c, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		return r.LookupHost(c, name)
	}
	var addrs []string
	deadline := time.Now().Add(15 * time.Second)
	for {
		addrs, err = lookup("grafana.internal.example.com")
		if err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil || len(addrs) != 1 || addrs[0] != "10.224.0.42" {
		t.Fatalf("grafana.internal.example.com → %v, %v; want the internal ingress 10.224.0.42", addrs, err)
	}
	if addrs, err := lookup("vpn.internal.example.com"); err != nil || len(addrs) != 1 || addrs[0] != "10.224.0.42" {
		t.Fatalf("vpn.internal.example.com → %v, %v", addrs, err)
	}
	// Names not in the override fall through to the rest of the server block.
	if addrs, err := lookup("www.example.com"); err != nil || len(addrs) != 1 || addrs[0] != "192.0.2.80" {
		t.Fatalf("www.example.com → %v, %v; want 192.0.2.80 from the rest of the server block (fallthrough)", addrs, err)
	}
}

func freeUDPPort(t *testing.T) int {
	t.Helper()
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port
}
