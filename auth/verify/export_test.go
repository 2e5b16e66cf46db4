package verify

import (
	"net/http"
	"testing"
	"time"
)

// CheckJWKSAnswer runs the parsing of an issuer's JWKS answer on any input
// (for FuzzJWKSAnswer): the lifetime stays within its bounds, and every key
// kept is a public signing key.
func CheckJWKSAnswer(t *testing.T, body []byte, h http.Header) {
	t.Helper()
	const minAge, maxAge = time.Minute, 15 * time.Minute
	if d := lifetime(h, time.Now(), minAge, maxAge); d < minAge || d > maxAge {
		t.Fatalf("lifetime %s out of [%s, %s] for %v", d, minAge, maxAge, h)
	}
	keys, err := parseJWKS(body)
	if err != nil {
		return
	}
	if len(keys) > maxJWKSKeys {
		t.Fatalf("%d keys kept", len(keys))
	}
	for _, k := range keys {
		if !k.IsPublic() || !k.Valid() || (k.Use != "" && k.Use != "sig") {
			t.Fatalf("kept key %+v", k)
		}
	}
}
