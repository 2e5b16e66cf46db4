package main

import (
	"crypto/tls"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/ghostwire/ghostwire/server/api"
	"github.com/ghostwire/ghostwire/server/httpapi"
)

// startAPI serves the API (no token verifier: only GET /v1/config is
// asked) with the server's real http.Server settings, over TLS with HTTP/2.
func startAPI(t *testing.T) *httptest.Server {
	t.Helper()
	h := httpapi.New(httpapi.Options{Config: api.Config{ServerName: "limits"}, Logger: slog.New(slog.DiscardHandler)})
	srv := httptest.NewUnstartedServer(h)
	srv.Config = newHTTPServer(h, slog.New(slog.DiscardHandler))
	srv.EnableHTTP2 = true
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv
}

// Over-long headers get the API's JSON error over HTTP/1 and HTTP/2 (issue
// 10: net/http's plain-text 431), up to the hard limit where net/http
// refuses them itself before any handler runs.
func TestHeaderLimits(t *testing.T) {
	srv := startAPI(t)
	for _, h2 := range []bool{false, true} {
		tr := srv.Client().Transport.(*http.Transport).Clone()
		tr.Protocols = new(http.Protocols)
		tr.Protocols.SetHTTP1(!h2)
		tr.Protocols.SetHTTP2(h2)
		tr.TLSClientConfig.NextProtos = nil
		c := &http.Client{Transport: tr}
		get := func(size int) (*http.Response, []byte) {
			t.Helper()
			req, _ := http.NewRequest("GET", srv.URL+api.PathConfig, nil)
			if size > 0 {
				req.Header.Set("X-Filler", strings.Repeat("a", size))
			}
			resp, err := c.Do(req)
			if err != nil && h2 && size > httpapi.HardMaxHeaderBytes {
				// HTTP/2 above the hard limit: the connection is refused
				// (GOAWAY), which is as good as a 431.
				return &http.Response{StatusCode: 431}, nil
			}
			if err != nil {
				t.Fatalf("h2 %v, %d bytes: %v", h2, size, err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			return resp, b
		}
		if resp, b := get(0); resp.StatusCode != 200 || (resp.ProtoMajor == 2) != h2 {
			t.Fatalf("h2 %v: %s %s", h2, resp.Proto, b)
		}
		resp, b := get(httpapi.MaxHeaderBytes + 1000)
		var e api.Error
		if resp.StatusCode != 431 || resp.Header.Get("Content-Type") != "application/json" || json.Unmarshal(b, &e) != nil || !strings.Contains(e.Message, "header") {
			t.Fatalf("h2 %v, over the API's limit: %d %q %s", h2, resp.StatusCode, resp.Header.Get("Content-Type"), b)
		}
		if resp, b := get(httpapi.HardMaxHeaderBytes + 8000); resp.StatusCode != 431 {
			t.Fatalf("h2 %v, over net/http's limit: %d %s", h2, resp.StatusCode, b)
		}
	}
}

// An HTTP/2 client that opens a header block and never finishes it is cut
// off within h2PingAfter + h2PingTimeout (issue 10: held for the 120 s idle
// timeout, while HTTP/1's slow headers are cut at 10 s).
func TestHTTP2UnfinishedHeaderBlock(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for the server to give up on the connection (about 15 s)")
	}
	srv := startAPI(t)
	conn, err := tls.Dial("tcp", srv.Listener.Addr().String(), &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"h2"}})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if p := conn.ConnectionState().NegotiatedProtocol; p != "h2" {
		t.Fatalf("negotiated %q", p)
	}
	frame := func(typ, flags byte, stream uint32, payload []byte) []byte {
		n := len(payload)
		return append([]byte{byte(n >> 16), byte(n >> 8), byte(n), typ, flags, byte(stream >> 24), byte(stream >> 16), byte(stream >> 8), byte(stream)}, payload...)
	}
	var out []byte
	out = append(out, "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"...)
	out = append(out, frame(0x4, 0, 0, nil)...) // SETTINGS
	// HEADERS on stream 1 with ":method: GET" (HPACK index 2) and no
	// END_HEADERS: the server must wait for a CONTINUATION.
	out = append(out, frame(0x1, 0, 1, []byte{0x82})...)
	start := time.Now()
	if _, err := conn.Write(out); err != nil {
		t.Fatal(err)
	}
	conn.SetReadDeadline(time.Now().Add(100 * time.Second))
	_, err = io.Copy(io.Discard, conn) // the server's SETTINGS, PING, GOAWAY, then EOF
	held := time.Since(start)
	if held > 45*time.Second { // 15 s expected; generous for a loaded machine, far below the 120 s idle timeout
		t.Fatalf("an unfinished header block was held %s (read: %v)", held.Round(time.Second), err)
	}
	t.Logf("connection with an unfinished header block closed after %s", held.Round(100*time.Millisecond))
}
