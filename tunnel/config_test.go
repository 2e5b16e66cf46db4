package tunnel

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"testing"
	"time"

	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"
)

// validConfig is a config that passes Validate (keys are made fresh).
func validConfig() Config {
	priv, _ := wgtypes.GeneratePrivateKey()
	srv, _ := wgtypes.GeneratePrivateKey()
	return Config{
		Interface:  "gwt0",
		PrivateKey: PrivateKey(priv),
		Address:    netip.MustParsePrefix("100.82.0.2/32"),
		Peer: Peer{
			PublicKey:  srv.PublicKey(),
			Endpoint:   netip.MustParseAddrPort("192.0.2.10:51820"),
			AllowedIPs: []netip.Prefix{netip.MustParsePrefix("10.202.0.0/16")},
			Keepalive:  25 * time.Second,
		},
		DNS: DNS{
			Servers: []netip.Addr{netip.MustParseAddr("10.202.0.10")},
			Search:  []string{"svc.cluster.local"},
			Match:   []string{"cluster.local"},
		},
	}
}

func TestValidate(t *testing.T) {
	if err := validConfig().Validate(); err != nil {
		t.Fatalf("valid config refused: %v", err)
	}
	for _, tc := range []struct {
		name string
		mod  func(*Config)
		want string
	}{
		{"no interface", func(c *Config) { c.Interface = "" }, "interface name is empty"},
		{"long interface", func(c *Config) { c.Interface = "ghostwire-cluster-01" }, "longer than 15"},
		{"bad interface", func(c *Config) { c.Interface = "gw/0" }, "may only hold"},
		{"no key", func(c *Config) { c.PrivateKey = PrivateKey{} }, "private key is missing"},
		{"no address", func(c *Config) { c.Address = netip.Prefix{} }, "tunnel address is missing"},
		{"no peer", func(c *Config) { c.Peer.PublicKey = Key{} }, "server public key is missing"},
		{"own key", func(c *Config) { c.Peer.PublicKey = c.PrivateKey.Public() }, "equals our own"},
		{"no endpoint", func(c *Config) { c.Peer.Endpoint = netip.AddrPort{} }, "must be IP:port"},
		{"mtu", func(c *Config) { c.MTU = 100 }, "outside 576..9000"},
		{"keepalive", func(c *Config) { c.Peer.Keepalive = -time.Second }, "keepalive"},
		{"full tunnel", func(c *Config) {
			c.Peer.AllowedIPs = append(c.Peer.AllowedIPs, netip.MustParsePrefix("::/0"))
		}, "whole internet"},
		{"bad domain", func(c *Config) { c.DNS.Search = []string{"svc..cluster.local"} }, "not a valid domain"},
		{"bad domain chars", func(c *Config) { c.DNS.Match = []string{"clu ster.local"} }, "not a valid domain"},
		{"dns mode", func(c *Config) { c.DNSMode = "dnsmasq" }, "unknown DNS mode"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := validConfig()
			tc.mod(&c)
			err := c.Validate()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
	c := validConfig()
	c.Peer.AllowedIPs = []netip.Prefix{netip.MustParsePrefix("0.0.0.0/0")}
	if err := c.Validate(); !errors.Is(err, ErrFullTunnel) {
		t.Fatalf("0.0.0.0/0: %v", err)
	}
	c.AllowFullTunnel = true
	if err := c.Validate(); err != nil {
		t.Fatalf("full tunnel allowed: %v", err)
	}
}

// The private key never shows in any formatting, log or marshalling.
func TestPrivateKeyRedacted(t *testing.T) {
	c := validConfig()
	k := c.PrivateKey
	secrets := []string{hex.EncodeToString(k[:]), base64.StdEncoding.EncodeToString(k[:])}
	var logBuf bytes.Buffer
	slog.New(slog.NewJSONHandler(&logBuf, nil)).Info("cfg", "config", c, "key", k)
	js, _ := json.Marshal(c)
	for _, s := range []string{fmt.Sprint(k), fmt.Sprintf("%v %+v %#v %s %x", c, c, c, k, k), logBuf.String(), string(js)} {
		for _, secret := range secrets {
			if strings.Contains(s, secret) {
				t.Fatalf("private key leaked in %q", s)
			}
		}
		if !strings.Contains(s, "redacted") {
			t.Fatalf("no redaction marker in %q", s)
		}
	}
	var want Key
	pub := wgtypes.Key(k).PublicKey()
	copy(want[:], pub[:])
	if k.Public() != want {
		t.Fatal("Public() differs from wgtypes")
	}
}

func TestResolveEndpoint(t *testing.T) {
	ap, err := ResolveEndpoint(t.Context(), "192.0.2.1:51820")
	if err != nil || ap.String() != "192.0.2.1:51820" {
		t.Fatal(ap, err)
	}
	ap, err = ResolveEndpoint(t.Context(), "localhost:51820")
	if err != nil || !ap.Addr().IsLoopback() || ap.Port() != 51820 {
		t.Fatal(ap, err)
	}
	if _, err := ResolveEndpoint(t.Context(), "no-port"); err == nil {
		t.Fatal("accepted an endpoint without a port")
	}
}
