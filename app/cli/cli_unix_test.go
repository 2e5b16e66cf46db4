//go:build unix

package cli

import (
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ghostwire/ghostwire/app/localapi"
)

func TestCtrlCDuringSignInBringsProfileDown(t *testing.T) {
	b, sock := serve(t)
	go func() {
		for i := 0; i < 200; i++ {
			time.Sleep(20 * time.Millisecond)
			if p, ok := b.Status().Profile("default"); ok && p.SignIn != nil && p.State == localapi.StateSigningIn && b.Status().Seq >= 3 {
				time.Sleep(50 * time.Millisecond) // the CLI is inside its watch, with the signal caught
				_ = syscall.Kill(syscall.Getpid(), syscall.SIGINT)
				return
			}
		}
	}()
	out, code := runCLI(t, sock, "up", "https://slow.test", "--no-browser")
	if code != ExitInterrupted || !strings.Contains(out, "cancelled") {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.downs) != 1 || b.downs[0].Profile != "default" {
		t.Fatalf("Ctrl-C must bring the profile down: %+v", b.downs)
	}
}
