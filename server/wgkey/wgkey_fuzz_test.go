package wgkey

import (
	"encoding/base64"
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
		if b, _ := base64.StdEncoding.DecodeString(s); b[31]&0x80 != 0 {
			t.Fatalf("accepted a key with the top bit set: %q", s)
		}
		if Check(k) != nil {
			t.Fatal("Parse and Check disagree")
		}
	})
}
