package cli

import (
	"context"
	"errors"
	"testing"
)

func TestStartTrayOnce(t *testing.T) {
	var started []string
	starter := func(name string, err error) func(context.Context) error {
		return func(context.Context) error { started = append(started, name); return err }
	}
	ctx := context.Background()
	if err := startTrayOnce(ctx, func() bool { return true }, starter("open", nil)); err != nil || len(started) != 0 {
		t.Fatalf("a running menu must not be started again: %v %v", err, started)
	}
	if err := startTrayOnce(ctx, func() bool { return false }, starter("open", errors.New("no app")), starter("exec", nil)); err != nil ||
		len(started) != 2 || started[1] != "exec" {
		t.Fatalf("the next starter after a failure: %v %v", err, started)
	}
	started = nil
	if err := startTrayOnce(ctx, func() bool { return false }, starter("open", errors.New("no app")), starter("exec", errors.New("no exe"))); err == nil {
		t.Fatal("every starter failing must be reported")
	}
}
