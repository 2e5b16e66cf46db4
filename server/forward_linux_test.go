package main

import (
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"testing"
	"time"

	"golang.zx2c4.com/wireguard/wgctrl"
	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"

	"github.com/ghostwire/ghostwire/internal/testenv"
	"github.com/ghostwire/ghostwire/server/forward"
	"github.com/ghostwire/ghostwire/server/internal/nstest"
	"github.com/ghostwire/ghostwire/server/wgdev"
)

// Client → tunnel → server → "cluster" for real: a pushed range is reachable
// (only thanks to masquerade: the cluster has no route back to the pool), a
// range that is not pushed is dropped even though the server can reach it,
// and nothing in the cluster can open a connection to the client.
func TestSystemForwarding(t *testing.T) {
	testenv.RequireSystem(t, "ping", "nft")
	nsS, nsC := nstest.Pair(t, "10.201.8.1/30", "10.201.8.2/30")
	nsK := nstest.NS(t, "k")
	nstest.Link(t, nsS, nsK, "10.201.8.5/30", "10.201.8.6/30")
	// 10.201.9.1 is in the "cluster" but not pushed to clients.
	nstest.Run(t, "ip", "-n", nsK, "addr", "add", "10.201.9.1/32", "dev", "lo")
	nstest.Run(t, "ip", "-n", nsS, "route", "add", "10.201.9.0/24", "via", "10.201.8.6")
	nstest.Run(t, "ip", "netns", "exec", nsS, "ping", "-c", "1", "-W", "2", "10.201.9.1") // the server itself reaches it

	id := rand.IntN(1 << 16)
	srvIf, cliIf := fmt.Sprintf("gwsf%04x", id), fmt.Sprintf("gwsg%04x", id)
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	srvKey, _ := wgtypes.GeneratePrivateKey()
	cliKey, _ := wgtypes.GeneratePrivateKey()
	pool := netip.MustParsePrefix("100.81.8.0/24")
	srv, err := wgdev.Open(wgdev.Options{Name: srvIf, Mode: wgdev.ModeUserspace, ListenPort: 51870, PrivateKey: srvKey,
		Address: netip.MustParsePrefix("100.81.8.1/24"), MTU: 1420, Logger: log, NetNS: nsS})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	rules, err := forward.Install(forward.Options{Interface: srvIf, Pool: pool, Routes: []netip.Prefix{netip.MustParsePrefix("10.201.8.4/30")},
		Masquerade: true, NetNS: nsS, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	defer rules.Remove()
	if err := rules.Status(); err != nil {
		t.Fatal(err)
	}
	if err := srv.AddPeer(cliKey.PublicKey(), netip.MustParsePrefix("100.81.8.2/32")); err != nil {
		t.Fatal(err)
	}
	cli, err := wgdev.Open(wgdev.Options{Name: cliIf, Mode: wgdev.ModeUserspace, ListenPort: 51871, PrivateKey: cliKey,
		Address: netip.MustParsePrefix("100.81.8.2/32"), MTU: 1420, Logger: log, NetNS: nsC})
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	wc, err := wgctrl.New()
	if err != nil {
		t.Fatal(err)
	}
	defer wc.Close()
	ka := time.Second
	var allowed []net.IPNet
	for _, c := range []string{"100.81.8.0/24", "10.201.8.4/30", "10.201.9.0/24"} {
		_, n, _ := net.ParseCIDR(c)
		allowed = append(allowed, *n)
		nstest.Run(t, "ip", "-n", nsC, "route", "add", c, "dev", cliIf)
	}
	if err := wc.ConfigureDevice(cliIf, wgtypes.Config{Peers: []wgtypes.PeerConfig{{PublicKey: srvKey.PublicKey(),
		Endpoint: &net.UDPAddr{IP: net.ParseIP("10.201.8.1"), Port: 51870}, AllowedIPs: allowed, PersistentKeepaliveInterval: &ka}}}); err != nil {
		t.Fatal(err)
	}
	ping := func(ns, dst string) error {
		return exec.Command("ip", "netns", "exec", ns, "ping", "-c", "1", "-W", "2", dst).Run()
	}
	// Pushed range: reachable, through masquerade (nsK has no route to the pool).
	deadline := time.Now().Add(10 * time.Second)
	for ping(nsC, "10.201.8.6") != nil {
		if time.Now().After(deadline) {
			t.Fatal("client cannot reach the pushed range 10.201.8.4/30 through the tunnel")
		}
	}
	// Not pushed: dropped by the server even though it can reach it.
	if ping(nsC, "10.201.9.1") == nil {
		t.Fatal("client reached 10.201.9.1, which is outside --routes")
	}
	// The cluster cannot open a connection to the client, even with a route to it.
	nstest.Run(t, "ip", "-n", nsK, "route", "add", pool.String(), "via", "10.201.8.5")
	if ping(nsK, "100.81.8.2") == nil {
		t.Fatal("the cluster reached the client: new connections towards clients must be dropped")
	}
	if err := ping(nsC, "10.201.8.6"); err != nil {
		t.Fatalf("client lost the pushed range: %v", err)
	}
}
