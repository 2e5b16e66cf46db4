//go:build !linux && !darwin && !windows

package osevents

import (
	"context"
	"fmt"
	"runtime"
)

func start(ctx context.Context, opt Options, wake, netChange func()) error {
	return fmt.Errorf("sleep/wake and network change signals are not supported on %s yet; sleep is still noticed by the clock", runtime.GOOS)
}
