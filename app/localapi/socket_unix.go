//go:build !windows

package localapi

import (
	"errors"
	"syscall"
)

var errConnRefused = syscall.ECONNREFUSED

func isNoDaemon(err error) bool { return errors.Is(err, syscall.ENOENT) }
