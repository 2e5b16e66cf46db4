package tunnel

import (
	"bufio"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// uapiConfig is the WireGuard UAPI "set" text for cfg. With old (a running
// config) it changes only what differs: the private key only when rotated
// (it is O(peers)), a replaced peer is removed, and listen_port is never
// written again (it would rebind the socket).
func uapiConfig(cfg Config, old *Config) string {
	var b strings.Builder
	if old == nil || !cfg.PrivateKey.equal(old.PrivateKey) {
		fmt.Fprintf(&b, "private_key=%s\n", cfg.PrivateKey.hex())
	}
	if old == nil {
		b.WriteString("replace_peers=true\n")
	} else if old.Peer.PublicKey != cfg.Peer.PublicKey {
		fmt.Fprintf(&b, "public_key=%s\nremove=true\n", hex.EncodeToString(old.Peer.PublicKey[:]))
	}
	fmt.Fprintf(&b, "public_key=%s\n", hex.EncodeToString(cfg.Peer.PublicKey[:]))
	fmt.Fprintf(&b, "endpoint=%s\n", cfg.Peer.Endpoint)
	fmt.Fprintf(&b, "persistent_keepalive_interval=%d\n", int(cfg.Peer.Keepalive/time.Second))
	b.WriteString("replace_allowed_ips=true\n")
	for _, p := range cfg.Peer.AllowedIPs {
		fmt.Fprintf(&b, "allowed_ip=%s\n", p.Masked())
	}
	return b.String()
}

// parseStats reads the counters of peer pub from UAPI "get" text.
func parseStats(text string, pub Key) (Stats, error) {
	want := hex.EncodeToString(pub[:])
	var s Stats
	var sec, nsec int64
	in, found := false, false
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), "=")
		if !ok {
			continue
		}
		if k == "public_key" {
			in = v == want
			found = found || in
			continue
		}
		if !in {
			continue
		}
		n, _ := strconv.ParseInt(v, 10, 64)
		switch k {
		case "rx_bytes":
			s.RxBytes = n
		case "tx_bytes":
			s.TxBytes = n
		case "last_handshake_time_sec":
			sec = n
		case "last_handshake_time_nsec":
			nsec = n
		}
	}
	if !found {
		return Stats{}, fmt.Errorf("the WireGuard device has no peer %s (internal error)", pub)
	}
	if sec != 0 || nsec != 0 {
		s.LatestHandshake = time.Unix(sec, nsec)
	}
	return s, nil
}
