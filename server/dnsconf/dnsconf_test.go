package dnsconf

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

func TestReadPodResolvConf(t *testing.T) {
	p := filepath.Join(t.TempDir(), "resolv.conf")
	os.WriteFile(p, []byte(`# written by the kubelet
search old.example
nameserver 10.0.0.10
nameserver 127.0.0.53 ; loopback is useless to a laptop
nameserver not-an-ip
search ghostwire.svc.cluster.local svc.cluster.local cluster.local Internal.CloudApp.net.
options ndots:5
`), 0o644)
	rc, err := Read(p)
	if err != nil {
		t.Fatal(err)
	}
	want := ResolvConf{Nameservers: []string{"10.0.0.10"}, Search: []string{"ghostwire.svc.cluster.local", "svc.cluster.local", "cluster.local", "internal.cloudapp.net"}}
	if !reflect.DeepEqual(rc, want) {
		t.Fatalf("got %+v", rc)
	}
	if _, err := Read(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Fatal("missing file accepted")
	}
}

func TestMatchDomains(t *testing.T) {
	got := MatchDomains([]string{"cluster.local"}, []string{"monitoring.svc.cluster.local", "svc.cluster.local", "corp.example", "a.corp.example", "CLUSTER.local."})
	want := []string{"cluster.local", "corp.example"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v want %v", got, want)
	}
	if m := Merge([]string{"a.b"}, []string{"A.B.", "c"}); !reflect.DeepEqual(m, []string{"a.b", "c"}) {
		t.Fatalf("merge %v", m)
	}
}
