//go:build !linux && !darwin && !windows

package notify

import (
	"context"
	"errors"
	"runtime"
)

// NewSender returns a sender that reports notifications are not supported on
// this OS yet (Windows toasts need an AppUserModelID registered by the installer).
func NewSender() Sender { return unsupported{} }

type unsupported struct{}

func (unsupported) Send(context.Context, Notification) error {
	return errors.New("desktop notifications are not supported on " + runtime.GOOS + " yet: the menu and icon still show every change")
}

func (unsupported) Close() error { return nil }
