//go:build unix

package instance

import "testing"

func TestInstanceLock(t *testing.T) { testInstance(t) }
