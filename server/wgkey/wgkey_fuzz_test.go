package wgkey

import (
	"crypto/ecdh"
	"crypto/rand"
	"math/big"
	"strings"
	"testing"
)

// `make fuzz` runs it for a while; `go test` runs the seeds below and
// anything in testdata/fuzz (crashers found are kept there as tests).

func FuzzParse(f *testing.F) {
	for _, s := range []string{"", "abc=", "X5yVvKNQjCSx0LFVnIPvWwREXMRYHI6G2CJO3dCfEVc=", "7v///////////////////////////////////////38=",
		"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", "CQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", strings.Repeat("/", 43) + "="} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		k, err := Parse(s)
		if err != nil {
			if err.Error() == "" {
				t.Fatal("an empty error message")
			}
			return
		}
		// Accepted: canonical, and exactly what was sent.
		if k.String() != s {
			t.Fatalf("accepted %q as %s", s, k)
		}
		// And a point a handshake can use, judged here without Check: u is
		// below p (so the top bit is clear), on the curve by the tests' own
		// arithmetic, not of small order (8·P is not the point at infinity),
		// and X25519 with a random private key gives a nonzero secret.
		le := make([]byte, 32)
		for i := range le {
			le[i] = k[31-i]
		}
		u := new(big.Int).SetBytes(le)
		if u.Cmp(fieldP) >= 0 {
			t.Fatalf("accepted %q: not reduced modulo p", s)
		}
		if onCurve(u) < 0 {
			t.Fatalf("accepted %q: a point of the twist", s)
		}
		if _, ok := ladder(big.NewInt(8), u, curveA); !ok {
			t.Fatalf("accepted %q: a point of small order", s)
		}
		priv, err := ecdh.X25519().GenerateKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		pub, err := ecdh.X25519().NewPublicKey(k[:])
		if err != nil {
			t.Fatalf("accepted %q: %v", s, err)
		}
		if secret, err := priv.ECDH(pub); err != nil || new(big.Int).SetBytes(secret).Sign() == 0 {
			t.Fatalf("accepted %q: X25519 gives no shared secret (%v)", s, err)
		}
	})
}
