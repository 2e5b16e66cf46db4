//go:build linux

package daemon

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ghostwire/ghostwire/app/engine"
	"github.com/ghostwire/ghostwire/app/localapi"
	"github.com/ghostwire/ghostwire/internal/testca"
	"github.com/ghostwire/ghostwire/server/api"
)

// A private CA reaches the daemon as text (never a path it would open as
// root), is handed to the server client, and is kept with the profile. A CA
// named by path in an older profiles.json is dropped.
func TestPrivateCAKeptAsText(t *testing.T) {
	dir := t.TempDir()
	ca := string(testca.CertPEM(t))
	var gotAPI []byte
	opts := func() Options {
		return Options{StateDir: dir, InterfacePrefix: "gwd", Tunnels: &memTunnels{},
			NewSignIn: func(api.Config, []byte) (engine.SignIn, error) { return memSignIn{}, nil },
			NewAPI: func(_ string, c []byte) (engine.API, error) {
				gotAPI = c
				return &memAPI{routes: []string{"10.203.96.0/20"}, peers: map[string]bool{}}, nil
			}}
	}
	d, err := New(opts())
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Up(t.Context(), localapi.UpRequest{Server: "https://vpn.test", CAPEM: ca}); err != nil {
		t.Fatal(err)
	}
	if string(gotAPI) != ca {
		t.Fatalf("the server client got CA %q", gotAPI)
	}
	waitConnected(t, d) // a new profile is kept once it has connected
	d.Shutdown()
	saved, _ := os.ReadFile(filepath.Join(dir, "profiles.json"))
	if !strings.Contains(string(saved), "BEGIN CERTIFICATE") || strings.Contains(string(saved), "ca_file") {
		t.Fatalf("profiles.json:\n%s", saved)
	}
	d, err = New(opts())
	if err != nil {
		t.Fatal(err)
	}
	if string(gotAPI) != ca {
		t.Fatal("the reloaded profile lost its CA")
	}
	d.Shutdown()

	// An older daemon's profile naming the CA by path: loaded without it.
	legacy := `{"profiles":[{"name":"old","server":"https://vpn.test","ca_file":"/etc/shadow","interface":"gwd0"}]}`
	if err := os.WriteFile(filepath.Join(dir, "profiles.json"), []byte(legacy), 0o600); err != nil {
		t.Fatal(err)
	}
	gotAPI = []byte("unset")
	d, err = New(opts())
	if err != nil {
		t.Fatal(err)
	}
	defer d.Shutdown()
	if len(gotAPI) != 0 {
		t.Fatalf("a CA path from an old profiles.json was used: %q", gotAPI)
	}
	if st := d.Status(); len(st.Profiles) != 1 || st.Profiles[0].Name != "old" {
		t.Fatalf("the old profile was not kept: %+v", st.Profiles)
	}
}

func waitConnected(t *testing.T, d *Daemon) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		st := d.Status()
		if len(st.Profiles) == 1 && st.Profiles[0].State == localapi.StateConnected {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("not connected: %+v", st.Profiles)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
