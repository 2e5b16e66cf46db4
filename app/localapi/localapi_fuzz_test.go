package localapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/ghostwire/ghostwire/app/daemon"
	"github.com/ghostwire/ghostwire/app/engine"
	"github.com/ghostwire/ghostwire/app/localapi"
	"github.com/ghostwire/ghostwire/app/serverclient"
	"github.com/ghostwire/ghostwire/server/api"
)

// unreachable is every server: a profile's engine stops at once, without
// network, so the fuzzer exercises the requests and not the connections.
type unreachable struct{}

func (unreachable) Config(context.Context) (api.Config, error) {
	return api.Config{}, &engine.ServerError{Kind: engine.ErrUnreachable, Message: "unreachable (fuzz)"}
}
func (unreachable) Register(context.Context, string, api.RegisterRequest) (api.Peer, error) {
	return api.Peer{}, &engine.ServerError{Kind: engine.ErrUnreachable, Message: "unreachable (fuzz)"}
}
func (unreachable) Peer(context.Context, string, string) (api.Peer, error) {
	return api.Peer{}, &engine.ServerError{Kind: engine.ErrUnreachable, Message: "unreachable (fuzz)"}
}
func (unreachable) DeletePeer(context.Context, string, string) error {
	return &engine.ServerError{Kind: engine.ErrUnreachable, Message: "unreachable (fuzz)"}
}

// noTunnels is never reached: no server answers.
type noTunnels struct{}

func (noTunnels) Up(context.Context, engine.TunnelConfig) (engine.Tunnel, error) {
	return nil, os.ErrInvalid
}

var profileName = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,31}$`)

// FuzzLocalAPI sends any request body to every call of the local API,
// served by the real daemon: never a panic; every answer is JSON (a Status
// or an Error); nothing invalid ends up in the saved profiles (names,
// server URLs, private CAs). `make fuzz` runs it for a while; `go test`
// runs the seeds.
func FuzzLocalAPI(f *testing.F) {
	f.Add(uint8(0), []byte(`{"profile":"work","server":"https://vpn.example.com"}`))
	f.Add(uint8(0), []byte(`{"profile":"../../etc","server":"http://10.0.0.1","ca_pem":"-----BEGIN RSA PRIVATE KEY-----\nAA==\n-----END RSA PRIVATE KEY-----\n"}`))
	f.Add(uint8(0), []byte(`{"server":"vpn.example.com","ca_pem":"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n","device_code":true}`))
	f.Add(uint8(1), []byte(`{"all":true}`))
	f.Add(uint8(2), []byte(`{"profile":"work","device_code":1}`))
	f.Add(uint8(3), []byte(`{"profile":"WORK"}{}`))
	f.Add(uint8(4), []byte(`{"profile":"w\u0000"}`))
	dir := f.TempDir()
	d, err := daemon.New(daemon.Options{StateDir: dir, InterfacePrefix: "gwf", Tunnels: noTunnels{},
		NewAPI:    func(string, []byte) (engine.API, error) { return unreachable{}, nil },
		NewSignIn: func(api.Config, []byte) (engine.SignIn, error) { return nil, os.ErrInvalid }})
	if err != nil {
		f.Fatal(err)
	}
	h := localapi.NewHandler(d, nil)
	paths := []string{"/v1/up", "/v1/down", "/v1/login", "/v1/logout", "/v1/extend"}
	f.Fuzz(func(t *testing.T, which uint8, body []byte) {
		req := httptest.NewRequest(http.MethodPost, paths[int(which)%len(paths)], bytes.NewReader(body))
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code == http.StatusOK {
			var st localapi.Status
			if err := json.Unmarshal(rec.Body.Bytes(), &st); err != nil {
				t.Fatalf("200 without a status: %q", rec.Body.Bytes())
			}
		} else {
			var e localapi.Error
			if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || e.Code == "" || e.Message == "" {
				t.Fatalf("%d without an error: %q", rec.Code, rec.Body.Bytes())
			}
		}
		for _, p := range d.Status().Profiles {
			if !profileName.MatchString(p.Name) {
				t.Fatalf("a profile named %q", p.Name)
			}
		}
		saved, err := os.ReadFile(filepath.Join(dir, "profiles.json"))
		if err != nil {
			return // nothing saved yet
		}
		var file struct {
			Profiles []struct {
				Name, Server string
				CAPEM        string `json:"ca_pem"`
			} `json:"profiles"`
		}
		if err := json.Unmarshal(saved, &file); err != nil {
			t.Fatalf("profiles.json unreadable: %v", err)
		}
		for _, p := range file.Profiles {
			if !profileName.MatchString(p.Name) {
				t.Fatalf("saved a profile named %q", p.Name)
			}
			if u, err := serverclient.ParseServerURL(p.Server); err != nil || u.String() != p.Server {
				t.Fatalf("saved the server %q (%v)", p.Server, err)
			}
			if p.CAPEM != "" && localapi.CheckCAPEM([]byte(p.CAPEM)) != nil {
				t.Fatalf("saved a CA that is not certificates only: %q", p.CAPEM)
			}
		}
	})
}
