package instance

import "testing"

// The session mutex, through the real kernel objects (Wine's under `make test-windows`).
func TestWindowsInstance(t *testing.T) { testInstance(t) }
