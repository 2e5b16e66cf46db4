package service

import (
	"context"
	"errors"
	"os"
	"os/signal"
	"syscall"
)

// TODO(linux): the issue of this OS replaces Install and Uninstall.
var errTODO = errors.New("installing the ghostwire service is not written for linux yet")

// Install registers and starts the daemon as a system service.
func Install(Spec) error { return errTODO }

// Uninstall stops the service and removes its registration.
func Uninstall() error { return errTODO }

// Run runs fn until SIGINT or SIGTERM (or ctx's end).
func Run(ctx context.Context, fn Runner) error {
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	return fn(ctx)
}
