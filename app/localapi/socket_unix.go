//go:build !windows

package localapi

import (
	"context"
	"errors"
	"net"
	"syscall"
)

var errConnRefused = syscall.ECONNREFUSED

func isNoDaemon(err error) bool { return errors.Is(err, syscall.ENOENT) }

func dialLocal(ctx context.Context, path string) (net.Conn, error) {
	var d net.Dialer
	return d.DialContext(ctx, "unix", path)
}
