package httpapi

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/ghostwire/ghostwire/server/api"
	"github.com/ghostwire/ghostwire/server/wgkey"
)

// Fuzz targets for what a client sends the /v1 API. `make fuzz` runs each
// for a while; `go test` runs the seeds below and anything in
// testdata/fuzz (crashers found are kept there as tests).

func FuzzDecodeRegister(f *testing.F) {
	for _, s := range []string{`{"public_key":"x"}`, `{"public_key":"a","public_key":"b"}`, `{"PUBLIC_KEY":"x"}`, `{"public_key":"x","device_name":"d","replaces":"r"}`,
		`{}`, `[]`, `{"public_key":1}`, `{"public_key":"x"}{}`, `{"a":{"b":[1,{"c":2,"c":3}]}}`, `{"public_key":"\u00e9"}`, ``, `nul`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var req api.RegisterRequest
		status, msg := decodeBody(b, &req)
		if status == 0 {
			// Accepted bodies are exactly one object with known,
			// exactly-cased members, each once.
			var m map[string]json.RawMessage
			if err := json.Unmarshal(b, &m); err != nil {
				t.Fatalf("accepted a body that is not an object: %q", b)
			}
			for k := range m {
				if k != "public_key" && k != "device_name" && k != "replaces" {
					t.Fatalf("accepted member %q", k)
				}
			}
			return
		}
		if status != http.StatusBadRequest || msg == "" {
			t.Fatalf("status %d %q", status, msg)
		}
	})
}

// FuzzRegisterHTTP sends any body (and any key in the path) through the
// real handler: every answer is a JSON api.Error or a peer, never a panic,
// and nothing reaches the device but keys wgkey.Parse accepts.
func FuzzRegisterHTTP(f *testing.F) {
	f.Add([]byte(`{"public_key":"xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg="}`), "xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=")
	f.Add([]byte(`{"public_key":"X5yVvKNQjCSx0LFVnIPvWwREXMRYHI6G2CJO3dCfEVc=","device_name":"a\u0000"}`), "%2F%2F")
	f.Add([]byte(`{"public_key":"xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=","replaces":"xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg="}`), "")
	e := newEnv(f, "100.81.0.0/20", 1<<20, StaticEndpoint("vpn.example.com:51820"))
	f.Fuzz(func(t *testing.T, body []byte, key string) {
		for _, c := range []struct{ method, path string }{{"POST", api.PathPeers}, {"GET", api.PathPeer + url.PathEscape(key)}, {"DELETE", api.PathPeer + key}} {
			if strings.ContainsAny(c.path, " \t\r\n#?") || !utf8Path(c.path) {
				continue
			}
			var r *bytes.Reader
			if c.method == "POST" {
				r = bytes.NewReader(body)
			} else {
				r = bytes.NewReader(nil)
			}
			req := httptest.NewRequest(c.method, "http://vpn"+c.path, r)
			req.Header.Set("Authorization", "Bearer alice")
			req.Header.Set("Content-Type", "application/json")
			rec := httptest.NewRecorder()
			e.handler.ServeHTTP(rec, req)
			if rec.Code/100 == 2 {
				continue
			}
			var ae api.Error
			if err := json.Unmarshal(rec.Body.Bytes(), &ae); err != nil || ae.Code == "" || ae.Message == "" {
				t.Fatalf("%s %s: %d %q", c.method, c.path, rec.Code, rec.Body.Bytes())
			}
		}
		e.dev.mu.Lock()
		defer e.dev.mu.Unlock()
		for k := range e.dev.peers {
			if wgkey.Check(k) != nil || k == e.srvKey {
				t.Fatalf("key %s reached the device", k)
			}
		}
	})
}

func utf8Path(p string) bool {
	_, err := url.ParseRequestURI("http://vpn" + p)
	return err == nil
}
