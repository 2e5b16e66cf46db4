package records

import (
	"encoding/base32"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"

	"github.com/ghostwire/ghostwire/server/wgkey"
)

// keyNames spells a key as a valid object name: lower-case base32, no padding
// (52 characters, within a label's 63).
var keyNames = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// PeerName is the name of the Peer object for key. One name per key makes the
// key unique cluster-wide: a second create of the same key fails.
func PeerName(key wgtypes.Key) string { return keyNames.EncodeToString(key[:]) }

// AddressName is the name of the Address object for a: the dotted address for
// IPv4 (a valid object name as it is), the eight groups joined by '-' for IPv6.
func AddressName(a netip.Addr) string {
	a = a.Unmap()
	if a.Is4() {
		return a.String()
	}
	b := a.As16()
	var s strings.Builder
	for i := 0; i < 16; i += 2 {
		if i > 0 {
			s.WriteByte('-')
		}
		fmt.Fprintf(&s, "%02x%02x", b[i], b[i+1])
	}
	return s.String()
}

// ParseAddressName reverses AddressName.
func ParseAddressName(name string) (netip.Addr, error) {
	if a, err := netip.ParseAddr(name); err == nil && a.Is4() {
		return a, nil
	}
	if a, err := netip.ParseAddr(strings.ReplaceAll(name, "-", ":")); err == nil && a.Is6() && AddressName(a) == name {
		return a, nil
	}
	return netip.Addr{}, fmt.Errorf("%q is not an address object's name (an IPv4 address, or eight '-'-separated IPv6 groups)", name)
}

// Checked is a Peer whose every field was verified: what a replica may
// program into its device.
type Checked struct {
	Key        wgtypes.Key
	Owner      Owner
	DeviceName string
	Addr       netip.Addr
	// CreatedAt is the object's creation time (the API server's clock).
	CreatedAt time.Time
	ExpiresAt time.Time
}

// Check verifies a Peer object read from the API: anyone with write access
// to the namespace could have edited it by hand. The key must pass what the
// API asks of a client's key (wgkey.Parse); client says whether an address
// is one the pool gives clients (pool.Contains: not the network, the
// server's or the broadcast address).
func Check(p *Peer, client func(netip.Addr) bool) (Checked, error) {
	var c Checked
	key, err := wgkey.Parse(p.Spec.PublicKey)
	if err != nil {
		return c, fmt.Errorf("spec.publicKey %q is not a usable WireGuard public key: %w", clip(p.Spec.PublicKey), err)
	}
	if want := PeerName(key); p.Name != want {
		return c, fmt.Errorf("the object's name must be %s, the spelling of its spec.publicKey", want)
	}
	if p.Spec.Owner.Subject == "" || len(p.Spec.Owner.Subject) > 1024 || !printable(p.Spec.Owner.Subject) {
		return c, errors.New("spec.owner.subject is empty, too long or not printable")
	}
	if len(p.Spec.Owner.Name) > 1024 || !printable(p.Spec.Owner.Name) || len(p.Spec.Owner.ObjectID) > 64 || !printable(p.Spec.Owner.ObjectID) {
		return c, errors.New("spec.owner.name or spec.owner.objectID is too long or not printable")
	}
	if utf8.RuneCountInString(p.Spec.DeviceName) > 64 || !printable(p.Spec.DeviceName) {
		return c, errors.New("spec.deviceName is longer than 64 characters or not printable")
	}
	addr, err := netip.ParseAddr(p.Spec.Address)
	if err != nil || addr.Zone() != "" {
		return c, fmt.Errorf("spec.address %q is not an IP address", clip(p.Spec.Address))
	}
	addr = addr.Unmap()
	if !client(addr) {
		return c, fmt.Errorf("spec.address %s is not a client address of the pool", addr)
	}
	if p.Spec.ExpiresAt.IsZero() {
		return c, errors.New("spec.expiresAt is missing")
	}
	return Checked{Key: key, Owner: p.Spec.Owner, DeviceName: p.Spec.DeviceName, Addr: addr,
		CreatedAt: p.CreationTimestamp.Time, ExpiresAt: p.Spec.ExpiresAt.Time}, nil
}

func printable(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if !unicode.IsPrint(r) {
			return false
		}
	}
	return true
}

// clip bounds what a log line quotes from a hand-edited object.
func clip(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}
