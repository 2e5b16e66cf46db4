package tunnel

import (
	"io"
	"log/slog"
	"os"
	"strings"
	"testing"

	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"
)

func newKey(t testing.TB) PrivateKey {
	k, err := wgtypes.GeneratePrivateKey()
	if err != nil {
		t.Fatal(err)
	}
	return PrivateKey(k)
}

func testLog(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(b)))
	return len(b), nil
}

// holdUntilParentEnds blocks a child process holding state until its
// parent closes the stdin pipe or kills it. A bare select{} is not enough:
// with no other goroutine and no timer, Go's runtime declares a deadlock
// and the child exits before it is killed; a blocking read is a system
// call, which the runtime does not count as asleep.
func holdUntilParentEnds() {
	_, _ = io.Copy(io.Discard, os.Stdin)
	os.Exit(0)
}
