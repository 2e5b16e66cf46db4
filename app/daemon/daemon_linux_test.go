package daemon

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/ghostwire/ghostwire/internal/testenv"
)

// TestPeerCredRefusesOtherUsers connects as user nobody (uid 65534) over a
// socket opened to everyone, so only the SO_PEERCRED check stands between
// that user and the daemon.
func TestPeerCredRefusesOtherUsers(t *testing.T) {
	testenv.RequireSystem(t, "curl")
	r := newDaemonRig(t, t.TempDir(), map[string]*memAPI{}, 0o666)
	for _, dir := range []string{filepath.Dir(r.sock), filepath.Dir(filepath.Dir(r.sock))} {
		if err := os.Chmod(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	curl := func(uid uint32) (string, error) {
		cmd := exec.Command("curl", "-sS", "--unix-socket", r.sock, "http://ghostwire/v1/status")
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uid, Gid: uid}}
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	out, err := curl(65534)
	if err != nil || !strings.Contains(out, `"forbidden"`) || !strings.Contains(out, "ghostwire") {
		t.Fatalf("user nobody must be refused with a message: %s %v", out, err)
	}
	out, err = curl(0)
	if err != nil || !strings.Contains(out, `"profiles"`) {
		t.Fatalf("root must be let in: %s %v", out, err)
	}
}
