package desktop

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// A real clipboard round trip on an X server (Xvfb): Copy puts the sign-in code
// on the CLIPBOARD selection with xclip, and another client reads it back.
func TestClipboardOnX11(t *testing.T) {
	if testing.Short() {
		t.Skip("X11 clipboard test: runs in the system pass of `make test` (needs Xvfb and xclip)")
	}
	for _, tool := range []string{"Xvfb", "xclip"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is missing: run `make deps` (packages xvfb, xclip): %v", tool, err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	x := exec.CommandContext(ctx, "Xvfb", "-displayfd", "3", "-screen", "0", "320x240x24", "-nolisten", "tcp")
	x.ExtraFiles = []*os.File{w}
	if err := x.Start(); err != nil {
		t.Fatal(err)
	}
	w.Close()
	t.Cleanup(func() { _ = x.Process.Kill(); _ = x.Wait() })
	buf := make([]byte, 16)
	n, err := r.Read(buf)
	if err != nil {
		t.Fatalf("Xvfb did not start: %v", err)
	}
	t.Setenv("DISPLAY", ":"+strings.TrimSpace(string(buf[:n])))
	t.Setenv("WAYLAND_DISPLAY", "")

	d := Desktop{GOOS: "linux", Env: os.Getenv, Look: exec.LookPath}
	if err := d.Copy(ctx, "ABCD-EFGH"); err != nil {
		t.Fatal(err)
	}
	out, err := exec.CommandContext(ctx, "xclip", "-o", "-selection", "clipboard").Output()
	if err != nil {
		t.Fatalf("reading the clipboard back: %v", err)
	}
	if string(out) != "ABCD-EFGH" {
		t.Fatalf("clipboard holds %q, want ABCD-EFGH", out)
	}
}
