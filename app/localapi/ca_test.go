package localapi

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"strings"
	"testing"
	"time"
)

func testCertPEM(t *testing.T) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

func TestCheckCAPEM(t *testing.T) {
	cert := testCertPEM(t)
	for _, ok := range [][]byte{cert, append(append([]byte("# our CA\n"), cert...), cert...)} {
		if err := CheckCAPEM(ok); err != nil {
			t.Errorf("a bundle of certificates refused: %v", err)
		}
	}
	key := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte{1, 2, 3}})
	for _, c := range []struct {
		name string
		in   []byte
		want string
	}{
		{"empty", nil, "no PEM certificate"},
		{"DER or text", []byte("root:x:0:0:root:/root:/bin/bash\n"), "no PEM certificate"},
		{"a key pasted along", append(append([]byte{}, cert...), key...), "never a key"},
		{"a broken certificate", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte("junk")}), "cannot be read"},
		{"too big", append(cert, make([]byte, MaxCAPEM)...), "larger than"},
	} {
		if err := CheckCAPEM(c.in); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error containing %q", c.name, err, c.want)
		}
	}
}
