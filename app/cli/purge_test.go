//go:build linux

package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// `daemon purge` (run by the MSI on removal and by the macOS uninstall
// script) refuses while a daemon answers, and otherwise deletes the state
// directory after an undo pass over its journal.
func TestDaemonPurge(t *testing.T) {
	state := filepath.Join(t.TempDir(), "state")
	if err := os.MkdirAll(filepath.Join(state, "journal"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(state, "profiles.json"), []byte(`{}`), 0o600); err != nil {
		t.Fatal(err)
	}
	_, sock := serve(t)
	out, code := runCLI(t, sock, "daemon", "purge", "--state-dir", state)
	if code != ExitError || !strings.Contains(out, "daemon is running") {
		t.Fatalf("purge under a running daemon: %d %s", code, out)
	}
	if _, err := os.Stat(filepath.Join(state, "profiles.json")); err != nil {
		t.Fatal("a refused purge removed the state")
	}
	out, code = runCLI(t, filepath.Join(t.TempDir(), "none.sock"), "daemon", "purge", "--state-dir", state)
	if code != ExitOK || !strings.Contains(out, "removed "+state) {
		t.Fatalf("purge: %d %s", code, out)
	}
	if _, err := os.Stat(state); !os.IsNotExist(err) {
		t.Errorf("the state directory is still there: %v", err)
	}
	if out, code := runCLI(t, "/nonexistent.sock", "daemon", "purge", "--state-dir", "relative"); code != ExitUsage {
		t.Errorf("a relative state directory: %d %s", code, out)
	}
}
