package config

import (
	"strings"
	"testing"
	"time"
)

func TestReplicaSettings(t *testing.T) {
	c := valid()
	c.Endpoint = ""
	c.KubeService = "ghostwire/ghostwire-wireguard-{ordinal}"
	c.KubeHA = true
	c.ReplicaName = "ghostwire-server-2"
	if err := c.Validate(); err != nil {
		t.Fatalf("a StatefulSet pod's settings refused: %v", err)
	}
	if svc, err := c.KubeServiceName(); err != nil || svc != "ghostwire/ghostwire-wireguard-2" {
		t.Fatalf("KubeServiceName = %q, %v", svc, err)
	}
	for name, tc := range map[string]struct {
		mut  func(*Config)
		want string
	}{
		"no ordinal in the name": {func(c *Config) { c.ReplicaName = "ghostwire-server" }, "ending in -<number>"},
		"not a DNS label":        {func(c *Config) { c.ReplicaName = "Ghostwire_Server-1" }, "DNS label"},
		"lease too short":        {func(c *Config) { c.ReplicaLease = time.Second }, "--replica-lease"},
	} {
		c := c
		tc.mut(&c)
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: Validate() = %v, want it to mention %q", name, err, tc.want)
		}
	}
	// Without --kube-ha the replica settings are not looked at.
	s := valid()
	s.ReplicaName = "Not A Label"
	if err := s.Validate(); err != nil {
		t.Fatalf("one server with a stray --replica-name: %v", err)
	}
}
