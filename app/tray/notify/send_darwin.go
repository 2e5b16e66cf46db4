package notify

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
)

// NewSender returns a sender that uses AppleScript's display notification.
// Not exercised here (needs a Mac): the script is built by appleScript, which is tested.
func NewSender() Sender { return osaSender{} }

type osaSender struct{}

func (osaSender) Send(ctx context.Context, n Notification) error {
	out, err := exec.CommandContext(ctx, "osascript", "-e", appleScript(n)).CombinedOutput()
	if err != nil {
		return fmt.Errorf("macOS did not show the notification: %v: %s", err, strings.TrimSpace(string(out)))
	}
	return nil
}

func (osaSender) Close() error { return nil }
