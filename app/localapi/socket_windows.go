//go:build windows

package localapi

import (
	"errors"
	"syscall"
)

// Windows 10+ supports AF_UNIX sockets; the ACL on the folder limits who may connect.
const defaultSocketPath = `C:\ProgramData\ghostwire\ghostwire.sock`

var errConnRefused = syscall.Errno(10061) // WSAECONNREFUSED

func isNoDaemon(err error) bool {
	return errors.Is(err, syscall.ENOENT) || errors.Is(err, syscall.ERROR_FILE_NOT_FOUND)
}
