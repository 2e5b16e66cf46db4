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
// (it is O(peers)), peers no longer wanted are removed, and listen_port is
// never written again (it would rebind the socket). The active peer is
// written before the standbys: its allowed IPs move to it first, then each
// standby's are emptied, all in one device update.
func uapiConfig(cfg Config, old *Config) string {
	var b strings.Builder
	if old == nil || !cfg.PrivateKey.equal(old.PrivateKey) {
		fmt.Fprintf(&b, "private_key=%s\n", cfg.PrivateKey.hex())
	}
	if old == nil {
		b.WriteString("replace_peers=true\n")
	} else {
		keep := map[Key]bool{cfg.Peer.PublicKey: true}
		for _, sb := range cfg.Standby {
			keep[sb.PublicKey] = true
		}
		for _, p := range append([]Peer{old.Peer}, old.Standby...) {
			if !keep[p.PublicKey] {
				fmt.Fprintf(&b, "public_key=%s\nremove=true\n", hex.EncodeToString(p.PublicKey[:]))
			}
		}
	}
	writePeer(&b, cfg.Peer)
	for _, sb := range cfg.Standby {
		sb.AllowedIPs = nil
		writePeer(&b, sb)
	}
	return b.String()
}

// writePeer sets one peer with exactly its allowed IPs (none for a standby).
func writePeer(b *strings.Builder, p Peer) {
	fmt.Fprintf(b, "public_key=%s\n", hex.EncodeToString(p.PublicKey[:]))
	fmt.Fprintf(b, "endpoint=%s\n", p.Endpoint)
	fmt.Fprintf(b, "persistent_keepalive_interval=%d\n", int(p.Keepalive/time.Second))
	b.WriteString("replace_allowed_ips=true\n")
	for _, a := range p.AllowedIPs {
		fmt.Fprintf(b, "allowed_ip=%s\n", a.Masked())
	}
}

// activateConfig is the UAPI text that moves the allowed IPs from the
// active peer to standby pub: one device update, so no packet finds no peer.
func activateConfig(from, to Peer) string {
	var b strings.Builder
	fmt.Fprintf(&b, "public_key=%s\nreplace_allowed_ips=true\n", hex.EncodeToString(to.PublicKey[:]))
	for _, a := range from.AllowedIPs {
		fmt.Fprintf(&b, "allowed_ip=%s\n", a.Masked())
	}
	fmt.Fprintf(&b, "public_key=%s\nreplace_allowed_ips=true\n", hex.EncodeToString(from.PublicKey[:]))
	return b.String()
}

// parseAllStats reads the counters of every peer from UAPI "get" text.
func parseAllStats(text string) map[Key]Stats {
	out := map[Key]Stats{}
	var cur Key
	var have bool
	var s Stats
	var sec, nsec int64
	flush := func() {
		if have {
			if sec != 0 || nsec != 0 {
				s.LatestHandshake = time.Unix(sec, nsec)
			}
			out[cur] = s
		}
		s, sec, nsec = Stats{}, 0, 0
	}
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), "=")
		if !ok {
			continue
		}
		if k == "public_key" {
			flush()
			b, err := hex.DecodeString(v)
			have = err == nil && len(b) == len(cur)
			if have {
				copy(cur[:], b)
			}
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
	flush()
	return out
}

// parseStats reads the counters of peer pub from UAPI "get" text.
func parseStats(text string, pub Key) (Stats, error) {
	s, ok := parseAllStats(text)[pub]
	if !ok {
		return Stats{}, fmt.Errorf("the WireGuard device has no peer %s (internal error)", pub)
	}
	return s, nil
}
