package atomicfile

import (
	"testing"

	"github.com/ghostwire/ghostwire/internal/wintest"
)

// Under Wine too (make test-windows): t.TempDir's cleanup is one Wine
// cannot do.
func TestWindowsWrite(t *testing.T) { testWrite(t, wintest.TempDir(t)) }
