package osevents

import (
	"context"
	"errors"
)

// TODO(darwin): the issue of this OS writes the power and network-change sources.
func start(ctx context.Context, opt Options, wake, netChange func()) error {
	return errors.New("sleep/wake and network change signals are not written for darwin yet; sleep is still noticed by the clock")
}
