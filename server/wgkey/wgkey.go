// Package wgkey parses and checks WireGuard public keys that come from
// elsewhere (a client's request, a record in the Kubernetes API): only a
// key some private key belongs to, that can complete a handshake, passes.
package wgkey

import (
	"crypto/ecdh"
	"encoding/base64"
	"errors"
	"fmt"
	"math/big"

	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"
)

const newKeyHint = ": make a new key pair with `wg genkey | wg pubkey` (ghostwire makes one by itself)"

// Parse accepts a WireGuard public key in standard base64 (44
// characters) that some private key belongs to and that can complete a
// handshake: a canonical point of Curve25519 (not of its twist) outside the
// small subgroup. Any other key would only hold an address until the
// registration grace ends.
func Parse(s string) (wgtypes.Key, error) {
	if len(s) != base64.StdEncoding.EncodedLen(wgtypes.KeyLen) {
		return wgtypes.Key{}, fmt.Errorf("a WireGuard public key is %d characters of standard base64, this one has %d", base64.StdEncoding.EncodedLen(wgtypes.KeyLen), len(s))
	}
	b, err := base64.StdEncoding.Strict().DecodeString(s)
	if err != nil || len(b) != wgtypes.KeyLen {
		return wgtypes.Key{}, errors.New("the WireGuard public key is not valid standard base64 (as printed by `wg pubkey`)")
	}
	k, _ := wgtypes.NewKey(b)
	if err := Check(k); err != nil {
		return wgtypes.Key{}, err
	}
	return k, nil
}

var (
	// p = 2^255 - 19, the field of Curve25519; A = 486662, its Montgomery
	// coefficient (v² = u³ + A·u² + u).
	fieldP = new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 255), big.NewInt(19))
	curveA = big.NewInt(486662)
	// probe is any private key: X25519 with it yields all zeros exactly for
	// the points of small order, whatever their encoding.
	probe = func() *ecdh.PrivateKey {
		k, err := ecdh.X25519().NewPrivateKey(make([]byte, 32))
		if err != nil {
			panic(err)
		}
		return k
	}()
)

// Check says why k cannot be a peer's public key, if it cannot.
func Check(k wgtypes.Key) error {
	if k == (wgtypes.Key{}) {
		return errors.New("the WireGuard public key is all zeros" + newKeyHint)
	}
	// A key made by WireGuard is u < p, little-endian, with the top bit
	// clear; X25519 would quietly reduce anything else.
	if k[31]&0x80 != 0 {
		return errors.New("the WireGuard public key has its top bit set, which no WireGuard key has" + newKeyHint)
	}
	le := make([]byte, 32)
	for i := range le {
		le[i] = k[31-i]
	}
	u := new(big.Int).SetBytes(le)
	if u.Cmp(fieldP) >= 0 {
		return errors.New("the WireGuard public key is not a reduced number modulo 2^255-19, which no WireGuard key is" + newKeyHint)
	}
	pub, err := ecdh.X25519().NewPublicKey(k[:])
	if err != nil {
		return errors.New("the WireGuard public key is not a Curve25519 key" + newKeyHint)
	}
	if _, err := probe.ECDH(pub); err != nil {
		return errors.New("the WireGuard public key is a low-order point: no handshake with it can ever complete" + newKeyHint)
	}
	// u is on the curve when u³ + A·u² + u is a square mod p; otherwise it
	// is on the twist, and no private key gives it as a public key.
	rhs := new(big.Int).Mul(u, u)
	rhs.Add(rhs, new(big.Int).Mul(curveA, u)).Add(rhs, big.NewInt(1)).Mul(rhs, u).Mod(rhs, fieldP)
	if big.Jacobi(rhs, fieldP) < 0 {
		return errors.New("the WireGuard public key is not a point of Curve25519, so no private key belongs to it" + newKeyHint)
	}
	return nil
}
