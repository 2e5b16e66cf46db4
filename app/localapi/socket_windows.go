//go:build windows

package localapi

import (
	"context"
	"errors"
	"net"
	"syscall"

	"github.com/ghostwire/ghostwire/app/localapi/winpipe"
)

// defaultSocketPath is the daemon's named pipe. Only Administrators and
// SYSTEM can create a pipe under ProtectedPrefix\Administrators, so no
// user program can take the name before the service does.
const defaultSocketPath = `\\.\pipe\ProtectedPrefix\Administrators\ghostwire\localapi`

const startDaemonHint = "start the ghostwire service (`sc start ghostwire` as administrator), " +
	"or install it with `ghostwire daemon install` from an elevated prompt"

var errConnRefused = syscall.Errno(10061) // WSAECONNREFUSED

func isNoDaemon(err error) bool {
	return errors.Is(err, syscall.ENOENT) || errors.Is(err, syscall.ERROR_FILE_NOT_FOUND)
}

// dialLocal opens the pipe as an identified client (the daemon reads who
// calls from our token) after checking that SYSTEM or Administrators serve it.
func dialLocal(ctx context.Context, path string) (net.Conn, error) {
	return winpipe.Dial(ctx, path)
}
