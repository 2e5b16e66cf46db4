package serverclient

import (
	"context"
	"encoding/json"
	"encoding/pem"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/ghostwire/ghostwire/app/engine"
	"github.com/ghostwire/ghostwire/server/api"
)

// testServer is a TLS server speaking the /v1 wire types; it answers what
// the server's handlers answer for each case the client must map.
func testServer(t *testing.T) (*httptest.Server, []byte) {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/config", func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(api.Config{Provider: api.ProviderOIDC, Issuer: "https://idp", ClientID: "gw", Scopes: []string{"vpn"}})
	})
	mux.HandleFunc("POST /v1/peers", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer good" {
			w.WriteHeader(http.StatusUnauthorized)
			_ = json.NewEncoder(w).Encode(api.Error{Code: api.CodeUnauthorized, Message: "your sign-in has expired: sign in again"})
			return
		}
		var req api.RegisterRequest
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			w.WriteHeader(400)
			return
		}
		_ = json.NewEncoder(w).Encode(api.Peer{PublicKey: req.PublicKey, Address: "100.83.0.9/32"})
	})
	mux.HandleFunc("GET /v1/peers/{key}", func(w http.ResponseWriter, r *http.Request) {
		switch r.PathValue("key") {
		case "a+b/c=":
			_ = json.NewEncoder(w).Encode(api.Peer{PublicKey: "a+b/c=", Address: "100.83.0.9/32"})
		case "forbidden":
			w.WriteHeader(http.StatusForbidden)
			_ = json.NewEncoder(w).Encode(api.Error{Code: api.CodeForbidden, Message: "your account is not in the group allowed to use this VPN"})
		default:
			w.WriteHeader(http.StatusNotFound)
			_ = json.NewEncoder(w).Encode(api.Error{Code: api.CodeNotFound, Message: "no such peer"})
		}
	})
	mux.HandleFunc("DELETE /v1/peers/{key}", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	srv := httptest.NewTLSServer(mux)
	t.Cleanup(srv.Close)
	return srv, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
}

func TestPrivateCAAndCalls(t *testing.T) {
	srv, ca := testServer(t)
	ctx := context.Background()

	// Without the CA the certificate is refused, with a message naming --ca-file.
	plain, err := New(srv.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = plain.Config(ctx)
	if !errors.Is(err, engine.ErrRejected) || !strings.Contains(err.Error(), "--ca-file") {
		t.Fatalf("unknown CA: %v", err)
	}

	c, err := New(srv.URL, ca)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := c.Config(ctx)
	if err != nil || cfg.ClientID != "gw" {
		t.Fatalf("config: %+v %v", cfg, err)
	}
	p, err := c.Register(ctx, "good", api.RegisterRequest{PublicKey: "k"})
	if err != nil || p.Address != "100.83.0.9/32" {
		t.Fatalf("register: %+v %v", p, err)
	}
	_, err = c.Register(ctx, "bad", api.RegisterRequest{PublicKey: "k"})
	if !errors.Is(err, engine.ErrUnauthorized) || !strings.Contains(err.Error(), "sign in again") {
		t.Fatalf("401: %v", err)
	}
	// Keys hold '+', '/' and '=': the path must carry them escaped.
	if p, err := c.Peer(ctx, "good", "a+b/c="); err != nil || p.PublicKey != "a+b/c=" {
		t.Fatalf("peer with escaped key: %+v %v", p, err)
	}
	if _, err := c.Peer(ctx, "good", "gone"); !errors.Is(err, engine.ErrNotFound) {
		t.Fatalf("404: %v", err)
	}
	if _, err := c.Peer(ctx, "good", "forbidden"); !errors.Is(err, engine.ErrForbidden) || !strings.Contains(err.Error(), "group") {
		t.Fatalf("403: %v", err)
	}
	if err := c.DeletePeer(ctx, "good", "a+b/c="); err != nil {
		t.Fatal(err)
	}
}

func TestUnreachable(t *testing.T) {
	c, err := New("https://127.0.0.1:1", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Config(context.Background()); !errors.Is(err, engine.ErrUnreachable) || !strings.Contains(err.Error(), "cannot reach") {
		t.Fatalf("got %v", err)
	}
}

func TestNotAGhostwireServer(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	defer srv.Close()
	c, err := New(srv.URL, nil) // http on loopback: allowed for development
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Config(context.Background()); !errors.Is(err, engine.ErrNotFound) || !strings.Contains(err.Error(), "ghostwire server") {
		t.Fatalf("got %v", err)
	}
}

func TestParseServerURL(t *testing.T) {
	for in, want := range map[string]string{
		"vpn.example.com":          "https://vpn.example.com",
		"https://vpn.example.com/": "https://vpn.example.com",
		"http://127.0.0.1:8080":    "http://127.0.0.1:8080",
		"http://localhost:8080":    "http://localhost:8080",
	} {
		u, err := ParseServerURL(in)
		if err != nil || u.String() != want {
			t.Errorf("%q: got %v %v, want %s", in, u, err, want)
		}
	}
	for _, bad := range []string{"", "http://vpn.example.com", "ftp://x", "https://user:pw@x", "https://x/?a=b", "https://"} {
		if _, err := ParseServerURL(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	if _, err := New("https://x", []byte("not a certificate")); err == nil || !strings.Contains(err.Error(), "--ca-file") {
		t.Errorf("a CA without a certificate: %v", err)
	}
}
