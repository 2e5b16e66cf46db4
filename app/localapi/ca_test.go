package localapi

import (
	"encoding/pem"
	"strings"
	"testing"

	"github.com/ghostwire/ghostwire/internal/testca"
)

func TestCheckCAPEM(t *testing.T) {
	cert := testca.CertPEM(t)
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
