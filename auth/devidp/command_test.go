package devidp

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestCommandRefusesNonLoopback(t *testing.T) {
	for _, addr := range []string{"0.0.0.0:8444", ":8444", "10.1.2.3:8444", "example.com:8444"} {
		cmd := Command()
		cmd.SetArgs([]string{"--listen", addr, "--insecure-http", "--user", "alice@example.com:VPN.User:g1,g2"})
		cmd.SetOut(&bytes.Buffer{})
		cmd.SetErr(&bytes.Buffer{})
		err := cmd.Execute()
		if err == nil || !strings.Contains(err.Error(), "refusing to listen") || !strings.Contains(err.Error(), "--i-know-this-is-insecure") {
			t.Errorf("%s: %v", addr, err)
		}
	}
	if err := checkListen("10.1.2.3:8444", true); err != nil {
		t.Errorf("with the flag: %v", err)
	}
	for _, ok := range []string{"127.0.0.1:1", "[::1]:1", "localhost:1", "127.0.0.9:1"} {
		if !isLoopbackListen(ok) {
			t.Errorf("%s is loopback", ok)
		}
	}
}

func TestCommandNeedsTLSOrInsecureHTTP(t *testing.T) {
	cmd := Command()
	cmd.SetArgs([]string{"--listen", "127.0.0.1:0"})
	cmd.SetErr(&bytes.Buffer{})
	if err := cmd.Execute(); err == nil || !strings.Contains(err.Error(), "--insecure-http") {
		t.Fatalf("got %v", err)
	}
}

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) { s.mu.Lock(); defer s.mu.Unlock(); return s.b.Write(p) }
func (s *syncBuf) String() string              { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

func TestCommandServes(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cmd := Command()
	logs := &syncBuf{}
	cmd.SetErr(logs)
	cmd.SetArgs([]string{"--listen", addr, "--insecure-http", "--user", "alice@example.com:VPN.User:g1,g2"})
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- cmd.ExecuteContext(ctx) }()
	var resp *http.Response
	for i := 0; i < 50; i++ {
		if resp, err = http.Get("http://" + addr + "/.well-known/openid-configuration"); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("discovery: %d", resp.StatusCode)
	}
	resp, err = http.Get("http://" + addr + "/device")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(page), "alice@example.com") || strings.Contains(string(page), UserDemo) {
		t.Errorf("--user did not replace the default users:\n%s", page)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), "WARNING: serving plain HTTP") {
		t.Errorf("no warning for plain HTTP in %s", logs.String())
	}
}

func TestParseUserFlag(t *testing.T) {
	u, err := ParseUserFlag("bob@example.com:VPN.User,VPN.Admin:g1")
	if err != nil || u.Username != "bob@example.com" || len(u.Roles) != 2 || len(u.Groups) != 1 {
		t.Fatalf("%+v %v", u, err)
	}
	if u, err := ParseUserFlag("carol"); err != nil || u.Roles != nil {
		t.Fatalf("%+v %v", u, err)
	}
	for _, bad := range []string{"", ":VPN.User", "a:b:c:d"} {
		if _, err := ParseUserFlag(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
