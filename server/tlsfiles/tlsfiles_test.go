package tlsfiles

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func writePair(t *testing.T, dir, cn string) {
	t.Helper()
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := x509.MarshalECPrivateKey(k)
	// Write beside and rename, as the kubelet's atomic writer does.
	os.WriteFile(filepath.Join(dir, "tls.crt.tmp"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(filepath.Join(dir, "tls.key.tmp"), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600)
	os.Rename(filepath.Join(dir, "tls.key.tmp"), filepath.Join(dir, "tls.key"))
	os.Rename(filepath.Join(dir, "tls.crt.tmp"), filepath.Join(dir, "tls.crt"))
}

func servedCN(t *testing.T, url string) string {
	t.Helper()
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, DisableKeepAlives: true}} // reads the served certificate only
	resp, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.TLS.PeerCertificates[0].Subject.CommonName
}

func TestReloadOnChangeKeepsGoodPair(t *testing.T) {
	dir := t.TempDir()
	writePair(t, dir, "first")
	r, err := New(filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key"), nil)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", r.TLSConfig())
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})}
	go hs.Serve(ln)
	defer hs.Close()
	srv := struct{ URL string }{"https://" + ln.Addr().String()}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go r.Watch(ctx, time.Hour) // events only: polling would hide a watch bug
	if cn := servedCN(t, srv.URL); cn != "first" {
		t.Fatalf("served %q", cn)
	}
	time.Sleep(50 * time.Millisecond) // watcher installed
	writePair(t, dir, "second")
	deadline := time.Now().Add(5 * time.Second)
	for servedCN(t, srv.URL) != "second" {
		if time.Now().After(deadline) {
			t.Fatal("new certificate not picked up")
		}
		time.Sleep(50 * time.Millisecond)
	}
	// A broken key never replaces the working pair.
	os.WriteFile(filepath.Join(dir, "tls.key"), []byte("garbage"), 0o600)
	time.Sleep(400 * time.Millisecond)
	if cn := servedCN(t, srv.URL); cn != "second" {
		t.Fatalf("served %q after a broken update", cn)
	}
	if _, err := New(filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key"), nil); err == nil {
		t.Fatal("mismatched pair accepted at start")
	}
	if _, err := New(filepath.Join(dir, "missing.crt"), filepath.Join(dir, "tls.key"), nil); err == nil {
		t.Fatal("missing file accepted")
	}
}
