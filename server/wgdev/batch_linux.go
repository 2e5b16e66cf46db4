package wgdev

import (
	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"
)

// AddPeers adds many peers in one device call: a replica rebuilding its
// device from the shared records at start programs 10,000 peers in one
// configuration instead of 10,000 (each a UAPI round trip). It adds; it
// never replaces the peers already there.
func (d *Device) AddPeers(peers []Allowed) error {
	const chunk = 2_000 // bounds one UAPI message (a few hundred KiB)
	for len(peers) > 0 {
		n := min(chunk, len(peers))
		cfg := wgtypes.Config{Peers: make([]wgtypes.PeerConfig, 0, n)}
		for _, p := range peers[:n] {
			cfg.Peers = append(cfg.Peers, peerConfig(p.Key, p.Prefix))
		}
		if err := d.client.ConfigureDevice(d.name, cfg); err != nil {
			return err
		}
		peers = peers[n:]
	}
	return nil
}
