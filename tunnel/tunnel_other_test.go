//go:build !linux && !darwin && !windows

package tunnel

import (
	"runtime"
	"strings"
	"testing"
)

// Until the macOS and Windows implementations exist, Up says so plainly.
func TestUpNotSupportedYet(t *testing.T) {
	_, err := Up(t.Context(), validConfig(), nil)
	if err == nil || !strings.Contains(err.Error(), "not supported on "+runtime.GOOS+" yet") {
		t.Fatalf("Up on %s: %v", runtime.GOOS, err)
	}
}
