package tunnel

import (
	"encoding/hex"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"
)

func standbyPeer(ep string) Peer {
	return Peer{PublicKey: validConfig().Peer.PublicKey, Endpoint: netip.MustParseAddrPort(ep), Keepalive: 25 * time.Second}
}

func hexKey(k Key) string { return hex.EncodeToString(k[:]) }

func TestValidateStandby(t *testing.T) {
	c := validConfig()
	c.Standby = []Peer{standbyPeer("192.0.2.11:51820"), standbyPeer("192.0.2.12:51820")}
	if err := c.Validate(); err != nil {
		t.Fatalf("valid standbys refused: %v", err)
	}
	for name, edit := range map[string]func(c *Config){
		"no key":             func(c *Config) { c.Standby[0].PublicKey = Key{} },
		"the active's key":   func(c *Config) { c.Standby[0].PublicKey = c.Peer.PublicKey },
		"a key twice":        func(c *Config) { c.Standby[1].PublicKey = c.Standby[0].PublicKey },
		"our own key":        func(c *Config) { c.Standby[0].PublicKey = c.PrivateKey.Public() },
		"no endpoint":        func(c *Config) { c.Standby[0].Endpoint = netip.AddrPort{} },
		"routes on standby":  func(c *Config) { c.Standby[0].AllowedIPs = pfx("10.0.0.0/8") },
		"negative keepalive": func(c *Config) { c.Standby[0].Keepalive = -time.Second },
	} {
		c := validConfig()
		c.Standby = []Peer{standbyPeer("192.0.2.11:51820"), standbyPeer("192.0.2.12:51820")}
		edit(&c)
		if err := c.Validate(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// One device update carries every peer: the active with its routes, each
// standby with none; a later update removes only the peers no longer wanted.
func TestUAPIConfigStandby(t *testing.T) {
	c := validConfig()
	s1, s2 := standbyPeer("192.0.2.11:51820"), standbyPeer("192.0.2.12:51820")
	c.Standby = []Peer{s1, s2}
	first := uapiConfig(c, nil)
	want := fmt.Sprintf("private_key=%s\nreplace_peers=true\n"+
		"public_key=%s\nendpoint=192.0.2.10:51820\npersistent_keepalive_interval=25\nreplace_allowed_ips=true\nallowed_ip=10.202.0.0/16\n"+
		"public_key=%s\nendpoint=192.0.2.11:51820\npersistent_keepalive_interval=25\nreplace_allowed_ips=true\n"+
		"public_key=%s\nendpoint=192.0.2.12:51820\npersistent_keepalive_interval=25\nreplace_allowed_ips=true\n",
		c.PrivateKey.hex(), hexKey(c.Peer.PublicKey), hexKey(s1.PublicKey), hexKey(s2.PublicKey))
	if first != want {
		t.Fatalf("first config:\n%s\nwant\n%s", first, want)
	}
	// s1 left, s3 joined; the active stays: only s1 is removed.
	n := c
	s3 := standbyPeer("192.0.2.13:51820")
	n.Standby = []Peer{s2, s3}
	upd := uapiConfig(n, &c)
	if strings.Count(upd, "remove=true") != 1 || !strings.Contains(upd, "public_key="+hexKey(s1.PublicKey)+"\nremove=true\n") ||
		strings.Contains(upd, "private_key") || !strings.Contains(upd, hexKey(s3.PublicKey)) {
		t.Fatalf("update:\n%s", upd)
	}
	// A registration answered by another replica: the active becomes s2,
	// the old active a standby; the routes are written to s2 before the
	// old active's are emptied.
	m := c
	m.Peer, m.Standby = s2, []Peer{{PublicKey: c.Peer.PublicKey, Endpoint: c.Peer.Endpoint, Keepalive: c.Peer.Keepalive}, s1}
	m.Peer.AllowedIPs = c.Peer.AllowedIPs
	sw := uapiConfig(m, &c)
	if strings.Contains(sw, "remove=true") {
		t.Fatalf("a swap removes no peer:\n%s", sw)
	}
	if i, j := strings.Index(sw, "allowed_ip=10.202.0.0/16"), strings.Index(sw, "public_key="+hexKey(c.Peer.PublicKey)); i < 0 || j < i {
		t.Fatalf("the routes must reach the new active before the old one is emptied:\n%s", sw)
	}
}

func TestActivateConfig(t *testing.T) {
	c := validConfig()
	s := standbyPeer("192.0.2.11:51820")
	got := activateConfig(c.Peer, s)
	want := fmt.Sprintf("public_key=%s\nreplace_allowed_ips=true\nallowed_ip=10.202.0.0/16\npublic_key=%s\nreplace_allowed_ips=true\n",
		hexKey(s.PublicKey), hexKey(c.Peer.PublicKey))
	if got != want {
		t.Fatalf("activate:\n%s\nwant\n%s", got, want)
	}
}

func TestParseAllStats(t *testing.T) {
	a, b := validConfig().Peer.PublicKey, validConfig().Peer.PublicKey
	text := fmt.Sprintf("private_key=00\nlisten_port=1\npublic_key=%s\nrx_bytes=1\ntx_bytes=2\nlast_handshake_time_sec=99\nlast_handshake_time_nsec=7\n"+
		"public_key=%s\nrx_bytes=3\ntx_bytes=4\nlast_handshake_time_sec=0\nlast_handshake_time_nsec=0\npublic_key=zz\nrx_bytes=9\nerrno=0\n", hexKey(a), hexKey(b))
	st := parseAllStats(text)
	if len(st) != 2 || st[a].RxBytes != 1 || st[a].TxBytes != 2 || !st[a].LatestHandshake.Equal(time.Unix(99, 7)) ||
		st[b].RxBytes != 3 || !st[b].LatestHandshake.IsZero() {
		t.Fatalf("stats %+v", st)
	}
}

// A standby's endpoint inside a pushed range is pinned as the active's is.
func TestCoveredEndpoints(t *testing.T) {
	c := validConfig()
	c.Peer.Endpoint = netip.MustParseAddrPort("10.202.1.1:51820") // inside 10.202.0.0/16
	c.Standby = []Peer{standbyPeer("192.0.2.11:51820"), standbyPeer("10.202.1.2:51820"), standbyPeer("10.202.1.1:51821")}
	got := coveredEndpoints(c, routePlan(c))
	want := []netip.Addr{netip.MustParseAddr("10.202.1.1"), netip.MustParseAddr("10.202.1.2")}
	if !slices.Equal(got, want) {
		t.Fatalf("covered %v, want %v", got, want)
	}
}
