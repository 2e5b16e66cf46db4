//go:build !windows

package localapi

import (
	"context"
	"errors"
	"net"
	"syscall"
)

const defaultSocketPath = "/run/ghostwire/ghostwire.sock"

const startDaemonHint = "start it with `sudo systemctl start ghostwire` or `sudo ghostwire daemon`"

func dialLocal(ctx context.Context, path string) (net.Conn, error) {
	var d net.Dialer
	return d.DialContext(ctx, "unix", path)
}

var errConnRefused = syscall.ECONNREFUSED

func isNoDaemon(err error) bool { return errors.Is(err, syscall.ENOENT) }
