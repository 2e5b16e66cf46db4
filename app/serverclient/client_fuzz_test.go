package serverclient

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"unicode"

	"github.com/ghostwire/ghostwire/app/engine"
	"github.com/ghostwire/ghostwire/server/api"
)

// FuzzServerAnswer: any status and body from the server (or whatever
// answers at its URL) for every call: never a panic; an error is always a
// ServerError of a kind the engine acts on, with a message safe to show.
// `make fuzz` runs it for a while; `go test` runs the seeds.
func FuzzServerAnswer(f *testing.F) {
	f.Add(uint16(200), []byte(`{"public_key":"k","address":"100.64.0.2/32","routes":["10.0.0.0/8"]}`))
	f.Add(uint16(401), []byte(`{"code":"unauthorized","message":"sign in again"}`))
	f.Add(uint16(403), []byte(`{"code":"forbidden","message":"\u001b[2Jowned"}`))
	f.Add(uint16(503), []byte(`{"code":"unavailable"}`))
	f.Add(uint16(204), []byte(``))
	f.Add(uint16(302), []byte(`<a href="https://evil">`))
	f.Add(uint16(500), []byte("\xff\xfe\x00"))
	f.Add(uint16(200), []byte(`{"address":1}`))
	var mu sync.Mutex
	var status int
	var body []byte
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		s, b := status, body
		mu.Unlock()
		if s == http.StatusFound {
			w.Header().Set("Location", "https://evil.example/")
		}
		w.WriteHeader(s)
		_, _ = w.Write(b)
	}))
	f.Cleanup(srv.Close)
	c, err := New(srv.URL, nil)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, st uint16, b []byte) {
		mu.Lock()
		status, body = 200+int(st)%400, b
		mu.Unlock()
		ctx := context.Background()
		check := func(err error) {
			t.Helper()
			if err == nil {
				if status/100 != 2 {
					t.Fatalf("status %d accepted", status)
				}
				return
			}
			var se *engine.ServerError
			if !errors.As(err, &se) {
				t.Fatalf("status %d: %T %v", status, err, err)
			}
			known := false
			for _, k := range []error{engine.ErrNotFound, engine.ErrUnauthorized, engine.ErrForbidden, engine.ErrUnreachable, engine.ErrRejected, engine.ErrDeviceCap} {
				known = known || errors.Is(err, k)
			}
			if !known || se.Message == "" || len(se.Message) > 3*maxMessage ||
				strings.IndexFunc(se.Message, func(r rune) bool { return unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r) }) >= 0 {
				t.Fatalf("status %d: kind known %v, message %q", status, known, se.Message)
			}
		}
		_, err := c.Config(ctx)
		check(err)
		_, err = c.Register(ctx, "t", api.RegisterRequest{PublicKey: "k"})
		check(err)
		_, err = c.Peer(ctx, "t", "k/+=")
		check(err)
		check(c.DeletePeer(ctx, "t", "k"))
	})
}
