//go:build !windows

package localapi

import (
	"context"
	"net"
)

const startDaemonHint = "start it with `sudo systemctl start ghostwire` or `sudo ghostwire daemon`"

func dialLocal(ctx context.Context, path string) (net.Conn, error) {
	var d net.Dialer
	return d.DialContext(ctx, "unix", path)
}
