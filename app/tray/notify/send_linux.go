package notify

import (
	"context"
	"fmt"
	"sync"

	"github.com/godbus/dbus/v5"
)

// Freedesktop notification service (https://specifications.freedesktop.org/notification-spec/).
const (
	fdoName   = "org.freedesktop.Notifications"
	fdoPath   = "/org/freedesktop/Notifications"
	fdoNotify = fdoName + ".Notify"
)

// NewSender returns a sender that calls org.freedesktop.Notifications on the
// session bus. The bus is dialed on first use, so a tray started before the
// desktop's notification daemon still works once it is there.
func NewSender() Sender { return &dbusSender{} }

type dbusSender struct {
	mu   sync.Mutex
	conn *dbus.Conn
	// ids remembers the last notification per key so a newer one replaces it
	// instead of piling up.
	ids map[string]uint32
}

func (s *dbusSender) Send(ctx context.Context, n Notification) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conn == nil {
		c, err := dbus.ConnectSessionBus()
		if err != nil {
			return fmt.Errorf("cannot reach the desktop session bus to show a notification: %w", err)
		}
		s.conn, s.ids = c, make(map[string]uint32)
	}
	urgency := byte(1)
	if n.Urgent {
		urgency = 2
	}
	hints := map[string]dbus.Variant{"urgency": dbus.MakeVariant(urgency)}
	var id uint32
	call := s.conn.Object(fdoName, fdoPath).CallWithContext(ctx, fdoNotify, 0,
		AppName, s.ids[n.Key], "network-vpn", n.Title, n.Body, []string{}, hints, int32(-1))
	if call.Err != nil {
		if c := s.conn; c != nil && !c.Connected() {
			s.conn = nil
		}
		return fmt.Errorf("the desktop did not show the notification (is a notification daemon running?): %w", call.Err)
	}
	if err := call.Store(&id); err == nil {
		s.ids[n.Key] = id
	}
	return nil
}

func (s *dbusSender) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conn == nil {
		return nil
	}
	err := s.conn.Close()
	s.conn = nil
	return err
}
