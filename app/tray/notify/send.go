package notify

import "context"

// Sender shows a notification on the desktop.
type Sender interface {
	Send(ctx context.Context, n Notification) error
	Close() error
}

// AppName is how notifications are signed.
const AppName = "Ghostwire"
