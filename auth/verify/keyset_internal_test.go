package verify

import (
	"net/http"
	"testing"
	"time"
)

func TestLifetimeFromCacheHeaders(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	const minAge, maxAge = time.Minute, 15 * time.Minute
	for _, tc := range []struct {
		name string
		h    map[string]string
		want time.Duration
	}{
		{"no header: our maximum", nil, maxAge},
		{"max-age within bounds", map[string]string{"Cache-Control": "public, max-age=300"}, 5 * time.Minute},
		{"Entra's day is cut to our maximum", map[string]string{"Cache-Control": "max-age=86400, private"}, maxAge},
		{"max-age less Age", map[string]string{"Cache-Control": "max-age=600", "Age": "300"}, 5 * time.Minute},
		{"Age beyond max-age: the minimum", map[string]string{"Cache-Control": "max-age=600", "Age": "9000"}, minAge},
		{"tiny max-age raised to the minimum", map[string]string{"Cache-Control": "max-age=1"}, minAge},
		{"no-cache", map[string]string{"Cache-Control": "no-cache"}, minAge},
		{"no-store wins over max-age", map[string]string{"Cache-Control": "max-age=600, no-store"}, minAge},
		{"quoted max-age", map[string]string{"Cache-Control": `max-age="240"`}, 4 * time.Minute},
		{"huge max-age saturates", map[string]string{"Cache-Control": "max-age=99999999999999999999999"}, maxAge},
		{"bad max-age ignored", map[string]string{"Cache-Control": "max-age=-5"}, maxAge},
		{"Expires - Date", map[string]string{"Expires": now.Add(8 * time.Minute).Format(http.TimeFormat), "Date": now.Format(http.TimeFormat)}, 8 * time.Minute},
		{"Expires without Date: our clock", map[string]string{"Expires": now.Add(3 * time.Minute).Format(http.TimeFormat)}, 3 * time.Minute},
		{"invalid Expires: already expired", map[string]string{"Expires": "0"}, minAge},
		{"max-age wins over Expires", map[string]string{"Cache-Control": "max-age=120", "Expires": now.Add(10 * time.Minute).Format(http.TimeFormat)}, 2 * time.Minute},
	} {
		h := http.Header{}
		for k, v := range tc.h {
			h.Set(k, v)
		}
		if got := lifetime(h, now, minAge, maxAge); got != tc.want {
			t.Errorf("%s: %s, want %s", tc.name, got, tc.want)
		}
	}
}

func TestParseJWKS(t *testing.T) {
	// One usable RSA key among keys to skip: an encryption key, a symmetric
	// key, an unknown key type, and a malformed entry.
	const rsaKey = `{"kty":"RSA","kid":"a","use":"sig","alg":"RS256","n":"sXchDaQebHnPiGvyDOAT4saGEUetSyo9MKLOoWFsueri23bOdgWp4Dy1WlUzewbgBHod5pcM9H95GQRV3JDXboIRROSBigeC5yjU1hGzHHyXss8UDprecbAYxknTcQkhslANGRUZmdTOQ5qTRsLAt6BTYuyvVRdhS8exSZEy_c4gs_7svlJJQ4H9_NxsiIoLwAEk7-Q3UXERGYw_75IDrGA84-lA_-Ct4eTlXHBIY2EaV7t7LjJaynVJCpkv4LKjTTAumiGUIuQhrNhZLuF_RJLqHpM2kgWFLU7-VTdL1VbC2tejvcI2BlMkEpk1BzBZI0KQB0GaDWFLN-aEAw3vRw","e":"AQAB"}`
	keys, err := parseJWKS([]byte(`{"keys":[` + rsaKey + `,
		{"kty":"RSA","kid":"enc","use":"enc","n":"sXch","e":"AQAB"},
		{"kty":"oct","kid":"sym","k":"c2VjcmV0"},
		{"kty":"OKP","crv":"X448","kid":"x448","x":"AAAA"},
		{"kty":"RSA","kid":"broken"}]}`))
	if err != nil || len(keys) != 1 || keys[0].KeyID != "a" {
		t.Fatalf("got %d keys %v", len(keys), err)
	}
	for _, bad := range []string{``, `[]`, `{}`, `{"keys":{}}`, `{"keys":[` + string(make([]byte, 0)) + `1,]}`} {
		if _, err := parseJWKS([]byte(bad)); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	many := `{"keys":[`
	for i := 0; i <= maxJWKSKeys; i++ {
		if i > 0 {
			many += ","
		}
		many += "{}"
	}
	if _, err := parseJWKS([]byte(many + "]}")); err == nil {
		t.Error("more than the maximum number of keys accepted")
	}
}

// A set past its lifetime stays in use while the issuer cannot be reached,
// for staleFor at most; then there is no usable set (503).
func TestKeySetStaleLimit(t *testing.T) {
	k := &keySet{refetch: time.Hour, staleFor: 50 * time.Millisecond}
	k.have, k.keys = true, nil
	k.expires = time.Now().Add(-10 * time.Millisecond)
	k.tried = time.Now() // a fetch may not be made now
	if _, err := k.usable(t.Context()); err != nil {
		t.Fatalf("within the stale limit: %v", err)
	}
	time.Sleep(60 * time.Millisecond)
	if _, err := k.usable(t.Context()); err == nil {
		t.Fatal("a set past its lifetime and the stale limit still used")
	}
}
