package wgpeer

import (
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/miekg/dns"
	"golang.zx2c4.com/wireguard/conn"
	"golang.zx2c4.com/wireguard/device"
	"golang.zx2c4.com/wireguard/tun/netstack"
	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"
)

// A userspace client (also netstack) reaches the service and the DNS server
// through a real WireGuard handshake with the peer.
func TestPeerServesThroughTunnel(t *testing.T) {
	p, err := Start(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()

	ck, _ := wgtypes.GeneratePrivateKey()
	if err := p.Allow(ck.PublicKey(), ClientAddr); err != nil {
		t.Fatal(err)
	}
	tdev, tnet, err := netstack.CreateNetTUN([]netip.Addr{ClientAddr.Addr()}, nil, 1420)
	if err != nil {
		t.Fatal(err)
	}
	dev := device.NewDevice(tdev, conn.NewDefaultBind(), device.NewLogger(device.LogLevelSilent, ""))
	defer dev.Close()
	pub := p.PublicKey()
	if err := dev.IpcSet(fmt.Sprintf("private_key=%x\npublic_key=%x\nendpoint=%s\nallowed_ip=%s\n",
		ck[:], pub[:], p.Endpoint(), Range)); err != nil {
		t.Fatal(err)
	}
	if err := dev.Up(); err != nil {
		t.Fatal(err)
	}

	hc := &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{DialContext: tnet.DialContext}}
	resp, err := hc.Get("http://" + ServiceAddr.String() + "/")
	if err != nil {
		t.Fatalf("GET through the tunnel: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != Body {
		t.Fatalf("body %q, want %q", body, Body)
	}

	ask := func(name string) *dns.Msg {
		t.Helper()
		c, err := tnet.DialUDPAddrPort(netip.AddrPort{}, netip.AddrPortFrom(DNSAddr, 53))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		m := new(dns.Msg)
		m.SetQuestion(name, dns.TypeA)
		dc := &dns.Conn{Conn: c}
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		if err := dc.WriteMsg(m); err != nil {
			t.Fatal(err)
		}
		r, err := dc.ReadMsg()
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	fqdn := Service + "." + Search[0] + "."
	if r := ask(fqdn); len(r.Answer) != 1 || r.Answer[0].(*dns.A).A.String() != ServiceAddr.String() {
		t.Fatalf("%s: %v", fqdn, r)
	}
	if r := ask("nothing." + Domain + "."); r.Rcode != dns.RcodeNameError {
		t.Fatalf("unknown cluster name: rcode %s, want NXDOMAIN", dns.RcodeToString[r.Rcode])
	}
	if r := ask("example.com."); r.Rcode != dns.RcodeRefused {
		t.Fatalf("outside name: rcode %s, want REFUSED", dns.RcodeToString[r.Rcode])
	}
	if q := p.Queries(); !slices.Contains(q, fqdn) {
		t.Fatalf("queries %v lack %s", q, fqdn)
	}
}
