package serverclient

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/ghostwire/ghostwire/app/engine"
	"github.com/ghostwire/ghostwire/server/api"
)

// The server's answers of issue 10 reach the engine as kinds it acts on:
// its sign-in provider unreachable (503) is "retry", never "sign in again";
// a missing scope (403) is "a person must act", with the scope named; and a
// hostile message cannot drive the terminal it is shown in.
func TestIssue10Answers(t *testing.T) {
	answer := map[string]func(w http.ResponseWriter){
		"keys-down": func(w http.ResponseWriter) {
			w.Header().Set("Retry-After", "60")
			w.WriteHeader(http.StatusServiceUnavailable)
			_ = json.NewEncoder(w).Encode(api.Error{Code: api.CodeUnavailable,
				Message: "the server cannot check your sign-in right now because it cannot fetch the sign-in provider's signing keys: try again in a minute (your sign-in is kept)"})
		},
		"no-scope": func(w http.ResponseWriter) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="ghostwire", error="insufficient_scope", scope="vpn.connect"`)
			w.WriteHeader(http.StatusForbidden)
			_ = json.NewEncoder(w).Encode(api.Error{Code: api.CodeForbidden,
				Message: "your access token does not carry the scope vpn.connect that this VPN requires, so signing in again will not help: ask your admin"})
		},
		"hostile": func(w http.ResponseWriter) {
			w.WriteHeader(http.StatusForbidden)
			_ = json.NewEncoder(w).Encode(api.Error{Code: api.CodeForbidden, Message: "denied\x1b[2J\x1b]0;owned\x07\r\nghostwire: connected\u202e" + strings.Repeat("x", 5000)})
		},
		"hostile-plain": func(w http.ResponseWriter) {
			w.WriteHeader(http.StatusBadGateway)
			_, _ = w.Write([]byte("<html>\x1b[31mbad gateway\xff\xfe"))
		},
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		answer[strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")](w)
	}))
	defer srv.Close()
	c, err := New(srv.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	_, err = c.Register(ctx, "keys-down", api.RegisterRequest{PublicKey: "k"})
	if !errors.Is(err, engine.ErrUnreachable) || errors.Is(err, engine.ErrUnauthorized) || !strings.Contains(err.Error(), "try again") {
		t.Fatalf("503 unavailable: %v", err)
	}
	_, err = c.Peer(ctx, "no-scope", "k")
	if !errors.Is(err, engine.ErrForbidden) || !strings.Contains(err.Error(), "vpn.connect") {
		t.Fatalf("403 insufficient scope: %v", err)
	}
	for _, tok := range []string{"hostile", "hostile-plain"} {
		_, err = c.Peer(ctx, tok, "k")
		var se *engine.ServerError
		if !errors.As(err, &se) {
			t.Fatalf("%s: %v", tok, err)
		}
		if strings.ContainsAny(se.Message, "\x1b\x07\r\n\u202e") || len(se.Message) > 2*maxMessage || !strings.Contains(se.Message, "denied") && tok == "hostile" {
			t.Fatalf("%s: message not cleaned: %q", tok, se.Message)
		}
	}
}
