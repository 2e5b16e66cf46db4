package records

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/ghostwire/ghostwire/server/pool"
)

func TestNamesAreValidObjectNames(t *testing.T) {
	for i := 0; i < 200; i++ {
		k, _ := wgtypes.GeneratePrivateKey()
		n := PeerName(k.PublicKey())
		if errs := validation.IsDNS1123Label(n); len(errs) > 0 {
			t.Fatalf("peer name %q: %v", n, errs)
		}
	}
	for _, s := range []string{"100.64.0.7", "10.0.0.1", "fd00::7", "fd7a:115c:a1e0::1234:5678", "::1"} {
		a := netip.MustParseAddr(s)
		n := AddressName(a)
		if errs := validation.IsDNS1123Subdomain(n); len(errs) > 0 {
			t.Fatalf("address name %q for %s: %v", n, s, errs)
		}
		back, err := ParseAddressName(n)
		if err != nil || back != a {
			t.Fatalf("ParseAddressName(%q) = %v, %v; want %s", n, back, err, a)
		}
	}
	for _, bad := range []string{"", "100.64.0", "fd00::7", "x", "fd00-0-0-0-0-0-0-7", "100.64.0.7.1"} {
		if _, err := ParseAddressName(bad); err == nil {
			t.Errorf("ParseAddressName(%q) accepted", bad)
		}
	}
}

func validPeer(t *testing.T) *Peer {
	k, _ := wgtypes.GeneratePrivateKey()
	pub := k.PublicKey()
	return &Peer{ObjectMeta: metav1.ObjectMeta{Name: PeerName(pub), CreationTimestamp: metav1.Now()},
		Spec: PeerSpec{PublicKey: pub.String(), Owner: Owner{Subject: "https://idp#alice", Name: "Alice"}, DeviceName: "laptop",
			Address: "100.64.0.7", ExpiresAt: metav1.NewTime(time.Now().Add(time.Hour))}}
}

// A record edited by hand into nonsense is refused with a reason, never used.
func TestCheckRefusesNonsense(t *testing.T) {
	pl, err := pool.New(netip.MustParsePrefix("100.64.0.0/16"), 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Check(validPeer(t), pl.Contains); err != nil {
		t.Fatalf("a valid record was refused: %v", err)
	}
	other, _ := wgtypes.GeneratePrivateKey()
	for name, edit := range map[string]func(p *Peer){
		"key not base64":        func(p *Peer) { p.Spec.PublicKey = "not a key" },
		"key of another name":   func(p *Peer) { p.Spec.PublicKey = other.PublicKey().String() },
		"no owner":              func(p *Peer) { p.Spec.Owner.Subject = "" },
		"unprintable owner":     func(p *Peer) { p.Spec.Owner.Subject = "a\x00b" },
		"address not an IP":     func(p *Peer) { p.Spec.Address = "a.b.c.d" },
		"address outside pool":  func(p *Peer) { p.Spec.Address = "10.0.0.1" },
		"the server's address":  func(p *Peer) { p.Spec.Address = "100.64.0.1" },
		"the network address":   func(p *Peer) { p.Spec.Address = "100.64.0.0" },
		"the broadcast address": func(p *Peer) { p.Spec.Address = "100.64.255.255" },
		"a low-order key": func(p *Peer) {
			p.Spec.PublicKey = "X5yVvKNQjCSx0LFVnIPvWwREXMRYHI6G2CJO3dCfEVc=" // issue 10
			k, _ := wgtypes.ParseKey(p.Spec.PublicKey)
			p.Name = PeerName(k)
		},
		"the zero key": func(p *Peer) {
			p.Spec.PublicKey = wgtypes.Key{}.String()
			p.Name = PeerName(wgtypes.Key{})
		},
		"address with a zone":   func(p *Peer) { p.Spec.Address = "fe80::1%eth0" },
		"no expiry":             func(p *Peer) { p.Spec.ExpiresAt = metav1.Time{} },
		"device name too long":  func(p *Peer) { p.Spec.DeviceName = strings.Repeat("x", 65) },
		"device name not utf-8": func(p *Peer) { p.Spec.DeviceName = "\xff" },
	} {
		p := validPeer(t)
		edit(p)
		if _, err := Check(p, pl.Contains); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// The clock follows the API server's Date headers: a local clock one hour
// ahead still tells the server's time within the round trip.
func TestClockEstimatesTheServersTime(t *testing.T) {
	server := time.Date(2026, 12, 1, 10, 0, 0, 300_000_000, time.UTC) // true server time at the first sample
	local := server.Add(time.Hour)                                    // a replica one hour ahead
	c := NewClock(func() time.Time { return local })
	if c.Offset() != 0 {
		t.Fatal("an unknown offset must be 0")
	}
	for i := 0; i < 20; i++ {
		sent := local
		rtt := 4 * time.Millisecond
		stamped := server.Add(rtt / 2)
		received := sent.Add(rtt)
		c.Observe(sent, received, stamped.Truncate(time.Second))
		step := 137 * time.Millisecond
		local, server = local.Add(step+rtt), server.Add(step+rtt)
	}
	got := c.Now()
	if d := got.Sub(server); d < -50*time.Millisecond || d > 50*time.Millisecond {
		t.Fatalf("estimated server time %v, true %v (off by %v)", got, server, d)
	}
	// A clock stepped back by an hour (NTP fixed it): the estimate follows at once.
	local = server
	c.Observe(local, local.Add(time.Millisecond), server.Truncate(time.Second))
	if d := c.Offset(); d < -time.Second || d > time.Second {
		t.Fatalf("after the clock was fixed the offset is %v, want about 0", d)
	}
}
