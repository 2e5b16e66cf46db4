package cli

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ghostwire/ghostwire/app/engine"
	"github.com/ghostwire/ghostwire/app/serverclient"
	"github.com/ghostwire/ghostwire/server/api"
)

// The README's exit-code table, `ghostwire --help` and what each error path
// really returns agree. The server's answers go through the real server
// client and the engine's mapping (engine.ErrorCode) to the exit code the
// CLI gives for a profile that failed with them (codeFor); the CLI's own
// paths run the CLI.

// readmeExitCodes parses the table under "Exit codes" in the README.
func readmeExitCodes(t *testing.T) map[int]string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, table, ok := strings.Cut(string(b), "| exit code | meaning |")
	if !ok {
		t.Fatal("the README has no exit-code table (| exit code | meaning |)")
	}
	row := regexp.MustCompile(`^\| (\d+) \| (.+) \|$`)
	out := map[int]string{}
	for _, line := range strings.Split(table, "\n")[2:] {
		m := row.FindStringSubmatch(line)
		if m == nil {
			break
		}
		n, _ := strconv.Atoi(m[1])
		out[n] = m[2]
	}
	return out
}

// helpExitCodes parses exitCodesHelp.
func helpExitCodes() map[int]string {
	out := map[int]string{}
	for _, line := range strings.Split(exitCodesHelp, "\n")[1:] {
		f := strings.Fields(line)
		n, _ := strconv.Atoi(f[0])
		out[n] = strings.Join(f[1:], " ")
	}
	return out
}

// serverAnswer runs a real server client against a server answering a
// /v1 error and returns the error the engine would see.
func serverAnswer(t *testing.T, status int, code string) error {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(api.Error{Code: code, Message: "as the server says"})
	}))
	defer srv.Close()
	c, err := serverclient.New(srv.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Register(context.Background(), "tok", api.RegisterRequest{PublicKey: "k"})
	return err
}

// profileExit is the exit code of `ghostwire up` for a profile that failed
// with err.
func profileExit(err error) int { return codeFor(orInternal(engine.ErrorCode(err))) }

func TestExitCodesAsDocumented(t *testing.T) {
	readme, help := readmeExitCodes(t), helpExitCodes()
	_, sock := serve(t)
	untrusted := httptest.NewTLSServer(http.NotFoundHandler())
	defer untrusted.Close()

	paths := []struct {
		code int
		how  string
		run  func(t *testing.T) int
	}{
		{ExitOK, "up, connected", func(t *testing.T) int { _, c := runCLI(t, sock, "up", "https://vpn.test", "--no-browser"); return c }},
		{ExitError, "a failure the engine has no kind for", func(t *testing.T) int { return profileExit(errors.New("disk full")) }},
		{ExitUsage, "unknown flag", func(t *testing.T) int { _, c := runCLI(t, sock, "up", "--nonsense"); return c }},
		{ExitUsage, "port out of range", func(t *testing.T) int { _, c := runCLI(t, sock, "up", "https://vpn.test:99999"); return c }},
		{ExitUsage, "URL with a path", func(t *testing.T) int { _, c := runCLI(t, sock, "up", "https://vpn.test/vpn/path"); return c }},
		{ExitUsage, "untrusted certificate", func(t *testing.T) int {
			c, _ := serverclient.New(untrusted.URL, nil)
			_, err := c.Config(context.Background())
			return profileExit(err)
		}},
		{ExitUsage, "the server refuses the request (bad_request)", func(t *testing.T) int {
			return profileExit(serverAnswer(t, http.StatusBadRequest, api.CodeBadRequest))
		}},
		{ExitNoDaemon, "no daemon", func(t *testing.T) int {
			_, c := runCLI(t, filepath.Join(t.TempDir(), "none.sock"), "status")
			return c
		}},
		{ExitSignIn, "token refused (401)", func(t *testing.T) int {
			return profileExit(serverAnswer(t, http.StatusUnauthorized, api.CodeUnauthorized))
		}},
		{ExitSignIn, "sign-in needed again", func(t *testing.T) int {
			_, c := runCLI(t, sock, "up", "https://expired.test", "--no-browser")
			return c
		}},
		{ExitForbidden, "account not allowed (403)", func(t *testing.T) int {
			return profileExit(serverAnswer(t, http.StatusForbidden, api.CodeForbidden))
		}},
		{ExitUnreachable, "server unavailable (503)", func(t *testing.T) int {
			return profileExit(serverAnswer(t, http.StatusServiceUnavailable, api.CodeUnavailable))
		}},
		{ExitUnreachable, "nothing listens", func(t *testing.T) int {
			c, _ := serverclient.New("https://127.0.0.1:1", nil)
			_, err := c.Config(context.Background())
			return profileExit(err)
		}},
		{ExitConflict, "routes overlap", func(t *testing.T) int {
			return profileExit(&engine.ServerError{Kind: engine.ErrConflict, Message: "overlap"})
		}},
		{ExitNotFound, "no such profile", func(t *testing.T) int { _, c := runCLI(t, sock, "down", "--profile", "nope"); return c }},
		{ExitUnsupported, "no tray in this build", func(t *testing.T) int { _, c := runCLI(t, "/nonexistent", "tray"); return c }},
		{ExitDeviceCap, "device cap (429 too_many_devices)", func(t *testing.T) int {
			return profileExit(serverAnswer(t, http.StatusTooManyRequests, api.CodeTooManyPeers))
		}},
		{ExitInterrupted, "Ctrl-C while signing in", func(t *testing.T) int {
			ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
			defer cancel()
			var out strings.Builder
			return (&App{Version: "test"}).Run(ctx, []string{"--socket", sock, "up", "https://slow.test", "--no-browser"}, &out, &out)
		}},
	}
	walked := map[int]bool{}
	for _, p := range paths {
		if got := p.run(t); got != p.code {
			t.Errorf("%s: exit %d, want %d", p.how, got, p.code)
		}
		walked[p.code] = true
	}
	var codes []int
	for c := range walked {
		codes = append(codes, c)
		if readme[c] == "" {
			t.Errorf("exit %d is returned but not in the README's table", c)
		}
		if help[c] == "" {
			t.Errorf("exit %d is returned but not in `ghostwire --help`", c)
		}
	}
	for c := range readme {
		if !walked[c] {
			t.Errorf("the README documents exit %d (%s), but no path here returns it", c, readme[c])
		}
	}
	for c := range help {
		if !walked[c] {
			t.Errorf("--help documents exit %d, but no path here returns it", c)
		}
	}
	slices.Sort(codes)
	t.Logf("walked exit codes %v", codes)
}
