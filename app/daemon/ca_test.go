//go:build linux

package daemon

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ghostwire/ghostwire/app/engine"
	"github.com/ghostwire/ghostwire/app/localapi"
	"github.com/ghostwire/ghostwire/server/api"
)

func caPEM(t *testing.T) string {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "corp CA"},
		NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}

// A private CA reaches the daemon as text (never a path it would open as
// root), is handed to the server client, and is kept with the profile. A CA
// named by path in an older profiles.json is dropped.
func TestPrivateCAKeptAsText(t *testing.T) {
	dir := t.TempDir()
	ca := caPEM(t)
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
