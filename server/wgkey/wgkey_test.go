package wgkey

import (
	"crypto/rand"
	"encoding/base64"
	"math/big"
	"strings"
	"testing"

	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"
)

// ladder is x(k·P) on the Montgomery curve v² = u³ + a·u² + u over fieldP,
// from u = x(P), for any k (unlike X25519, no clamping): RFC 7748's ladder
// with big integers, for tests only. ok is false for the point at infinity.
func ladder(k, u *big.Int, a *big.Int) (x *big.Int, ok bool) {
	p := fieldP
	a24 := new(big.Int).Div(new(big.Int).Sub(a, big.NewInt(2)), big.NewInt(4))
	mod := func(z *big.Int) *big.Int { return z.Mod(z, p) }
	x1 := new(big.Int).Set(u)
	x2, z2, x3, z3 := big.NewInt(1), big.NewInt(0), new(big.Int).Set(u), big.NewInt(1)
	for i := k.BitLen() - 1; i >= 0; i-- {
		if k.Bit(i) == 1 {
			x2, x3, z2, z3 = x3, x2, z3, z2
		}
		A := mod(new(big.Int).Add(x2, z2))
		AA := mod(new(big.Int).Mul(A, A))
		B := mod(new(big.Int).Sub(x2, z2))
		BB := mod(new(big.Int).Mul(B, B))
		E := mod(new(big.Int).Sub(AA, BB))
		C := mod(new(big.Int).Add(x3, z3))
		D := mod(new(big.Int).Sub(x3, z3))
		DA := mod(new(big.Int).Mul(D, A))
		CB := mod(new(big.Int).Mul(C, B))
		x3 = mod(new(big.Int).Exp(mod(new(big.Int).Add(DA, CB)), big.NewInt(2), p))
		z3 = mod(new(big.Int).Mul(x1, mod(new(big.Int).Exp(mod(new(big.Int).Sub(DA, CB)), big.NewInt(2), p))))
		x2 = mod(new(big.Int).Mul(AA, BB))
		z2 = mod(new(big.Int).Mul(E, mod(new(big.Int).Add(AA, mod(new(big.Int).Mul(a24, E))))))
		if k.Bit(i) == 1 {
			x2, x3, z2, z3 = x3, x2, z3, z2
		}
	}
	if z2.Sign() == 0 {
		return nil, false
	}
	return mod(x2.Mul(x2, new(big.Int).ModInverse(z2, p))), true
}

func onCurve(u *big.Int) int {
	rhs := new(big.Int).Mul(u, u)
	rhs.Add(rhs, new(big.Int).Mul(curveA, u)).Add(rhs, big.NewInt(1)).Mul(rhs, u).Mod(rhs, fieldP)
	return big.Jacobi(rhs, fieldP)
}

func encode(u *big.Int) wgtypes.Key {
	var k wgtypes.Key
	b := u.FillBytes(make([]byte, 32))
	for i := range k {
		k[i] = b[31-i]
	}
	return k
}

// smallOrderX computes the u-coordinates of every point of small order on
// Curve25519 (order dividing 8) and on its twist (order dividing 4): the
// multiples ℓ·P (curve) and ℓ'·P (twist) of random points.
func smallOrderX(t *testing.T) map[string]*big.Int {
	t.Helper()
	// The ladder agrees with X25519 for a clamped scalar on the base point.
	priv, _ := wgtypes.GeneratePrivateKey() // clamped
	le := make([]byte, 32)
	for i := range le {
		le[i] = priv[31-i]
	}
	if x, ok := ladder(new(big.Int).SetBytes(le), big.NewInt(9), curveA); !ok || encode(x) != priv.PublicKey() {
		t.Fatal("the test's ladder disagrees with X25519")
	}
	ell, _ := new(big.Int).SetString("7237005577332262213973186563042994240857116359379907606001950938285454250989", 10) // 2^252 + 27742317777372353535851937790883648493
	// The twist has 2(p+1) − 8ℓ points, 4ℓ' of them.
	ellT := new(big.Int).Sub(new(big.Int).Mul(big.NewInt(2), new(big.Int).Add(fieldP, big.NewInt(1))), new(big.Int).Mul(big.NewInt(8), ell))
	ellT.Div(ellT, big.NewInt(4))
	out := map[string]*big.Int{}
	for i := 0; i < 200; i++ {
		u, _ := rand.Int(rand.Reader, fieldP)
		k := ell
		if onCurve(u) < 0 {
			k = ellT
		}
		if x, ok := ladder(k, u, curveA); ok {
			out[x.String()] = x
		}
	}
	return out
}

func TestParseRefusesEverySmallOrderPoint(t *testing.T) {
	xs := smallOrderX(t)
	// 0 (order 2), 1 and p−1 (order 4, one on the curve, one on the
	// twist), and the two u of the points of order 8.
	if len(xs) != 5 {
		t.Fatalf("found %d small-order u values, want 5: %v", len(xs), xs)
	}
	listed, _ := base64.StdEncoding.DecodeString("X5yVvKNQjCSx0LFVnIPvWwREXMRYHI6G2CJO3dCfEVc=") // the key in issue 10
	var lk wgtypes.Key
	copy(lk[:], listed)
	found := false
	two255 := new(big.Int).Lsh(big.NewInt(1), 255)
	var bad []wgtypes.Key
	for _, x := range xs {
		if encode(x) == lk {
			found = true
		}
		// Every 256-bit string that X25519 reads as x: x and x+p when it
		// fits in 255 bits, each with and without the top bit.
		for _, v := range []*big.Int{x, new(big.Int).Add(x, fieldP)} {
			if v.Cmp(two255) < 0 {
				bad = append(bad, encode(v), encode(new(big.Int).Add(v, two255)))
			}
		}
	}
	if !found {
		t.Fatal("the order-8 point listed in issue 10 was not among the computed ones")
	}
	if len(bad) != 14 {
		t.Fatalf("%d encodings, want 14", len(bad))
	}
	for _, k := range bad {
		if _, err := Parse(k.String()); err == nil {
			t.Errorf("small-order key %s accepted", k)
		} else if !strings.Contains(err.Error(), "wg genkey") {
			t.Errorf("%s: %v", k, err)
		}
	}
}

func TestParseRefusesWhatNoPrivateKeyGives(t *testing.T) {
	// Points of the twist, and non-reduced u (p ≤ u < 2^255).
	twist := 0
	for twist < 20 {
		u, _ := rand.Int(rand.Reader, fieldP)
		if onCurve(u) >= 0 {
			continue
		}
		twist++
		if _, err := Parse(encode(u).String()); err == nil || !strings.Contains(err.Error(), "not a point of Curve25519") {
			t.Fatalf("twist point %s: %v", encode(u), err)
		}
	}
	for d := int64(2); d < 19; d++ {
		u := new(big.Int).Add(fieldP, big.NewInt(d))
		if _, err := Parse(encode(u).String()); err == nil || !strings.Contains(err.Error(), "not a reduced number") {
			t.Fatalf("u = p+%d: %v", d, err)
		}
	}
	// Every key WireGuard makes is accepted.
	for i := 0; i < 200; i++ {
		priv, _ := wgtypes.GeneratePrivateKey()
		if k, err := Parse(priv.PublicKey().String()); err != nil || k != priv.PublicKey() {
			t.Fatalf("a real key refused: %v", err)
		}
	}
}
