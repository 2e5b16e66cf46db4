package cli

import (
	"context"
	"errors"
)

// startTrayOnce is ensureTray's rule on Windows and macOS: nothing when the
// menu-bar app runs (app/tray/instance), else the first starter that works.
func startTrayOnce(ctx context.Context, running func() bool, starters ...func(context.Context) error) error {
	if running() {
		return nil
	}
	var errs []error
	for _, start := range starters {
		err := start(ctx)
		if err == nil {
			return nil
		}
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}
