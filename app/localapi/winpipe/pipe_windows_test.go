package winpipe

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/windows"
)

// These run under Wine in `make test-windows` and natively on the hosted
// Windows runner. Wine does not enforce the ProtectedPrefix namespace
// (only Administrators may create pipes there on Windows), so that part of
// squatting protection is verified on Windows only; the first-instance
// check, the descriptor, identification and the owner check are real here.

func testName(t *testing.T) string {
	return fmt.Sprintf(`\\.\pipe\ProtectedPrefix\Administrators\ghostwire-test\%s-%d`, t.Name(), os.Getpid())
}

func listen(t *testing.T, name string) *Listener {
	t.Helper()
	l, err := Listen(name, SDDL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

func TestWindowsPipeDescriptorAndIdentity(t *testing.T) {
	name := testName(t)
	l := listen(t, name)

	// The descriptor on the pipe is the one asked for.
	sd, err := windows.GetSecurityInfo(l.pending, windows.SE_KERNEL_OBJECT,
		windows.OWNER_SECURITY_INFORMATION|windows.DACL_SECURITY_INFORMATION)
	if err != nil {
		t.Fatal(err)
	}
	got := sd.String()
	// Windows maps GA to the pipe's own rights (FA); Wine keeps GA.
	norm := strings.ReplaceAll(got, ";GA;", ";FA;")
	for _, want := range []string{"O:BA", "D:P", "(A;;FA;;;SY)", "(A;;FA;;;BA)", "(A;;0x12019b;;;AU)"} {
		if !strings.Contains(norm, want) {
			t.Errorf("pipe descriptor %s lacks %s", got, want)
		}
	}
	if strings.Contains(got, ";WD)") || strings.Contains(got, ";AN)") {
		t.Errorf("pipe descriptor %s lets everyone or anonymous in", got)
	}

	type accepted struct {
		c   net.Conn
		err error
	}
	acc := make(chan accepted, 1)
	go func() { c, err := l.Accept(); acc <- accepted{c, err} }()
	cli, err := Dial(t.Context(), name)
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	a := <-acc
	if a.err != nil {
		t.Fatal(a.err)
	}
	srv := a.c.(*Conn)
	defer srv.Close()

	if _, err := cli.Write([]byte("status?")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 7)
	if _, err := io.ReadFull(srv, buf); err != nil || string(buf) != "status?" {
		t.Fatalf("server read %q %v", buf, err)
	}
	id, err := srv.Identify()
	if err != nil {
		t.Fatalf("identify the caller: %v", err)
	}
	me, err := windows.GetCurrentProcessToken().GetTokenUser()
	if err != nil {
		t.Fatal(err)
	}
	if id.SID != me.User.Sid.String() || id.PID != os.Getpid() || len(id.Groups) == 0 {
		t.Fatalf("identified %+v, want SID %s and pid %d", id, me.User.Sid, os.Getpid())
	}
	t.Logf("caller: %+v", id)
	if _, err := cli.Identify(); err == nil {
		t.Fatal("a client cannot identify the server by impersonation")
	}

	// Both ends keep the socket semantics http needs: deadlines, EOF on close.
	if err := cli.SetReadDeadline(time.Now().Add(50 * time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	if _, err := cli.Read(buf); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read past the deadline: %v", err)
	}
	_ = cli.SetReadDeadline(time.Time{})
	if _, err := srv.Write([]byte("ok")); err != nil {
		t.Fatal(err)
	}
	srv.Close()
	b, err := io.ReadAll(cli)
	if err != nil || string(b) != "ok" {
		t.Fatalf("client read %q, %v after the server closed", b, err)
	}
}

// A name already served is refused loudly, and says who serves it.
func TestWindowsPipeSquatted(t *testing.T) {
	name := testName(t)
	squatter, err := Listen(name, "D:P(A;;GA;;;WD)")
	if err != nil {
		t.Fatal(err)
	}
	defer squatter.Close()
	if _, err := Listen(name, SDDL); !errors.Is(err, ErrTaken) {
		t.Fatalf("a taken name: %v", err)
	}
	pid, exe, err := Holder(name)
	if err != nil || int(pid) != os.Getpid() {
		t.Fatalf("holder: pid %d %q %v, want %d", pid, exe, err, os.Getpid())
	}
	t.Logf("held by %d %s", pid, exe)
}

// A client refuses a pipe whose owner is neither SYSTEM nor Administrators:
// whoever created it is not the ghostwire service.
func TestWindowsPipeOwnerChecked(t *testing.T) {
	name := testName(t)
	me, err := windows.GetCurrentProcessToken().GetTokenUser()
	if err != nil {
		t.Fatal(err)
	}
	l, err := Listen(name, "O:"+me.User.Sid.String()+"D:P(A;;GA;;;WD)")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		if c, err := l.Accept(); err == nil {
			c.Close()
		}
	}()
	_, err = Dial(t.Context(), name)
	if err == nil || !strings.Contains(err.Error(), "refusing") {
		t.Fatalf("a pipe owned by %s: %v", me.User.Sid, err)
	}
}

func TestWindowsPipeCloseWakesAccept(t *testing.T) {
	l, err := Listen(testName(t), SDDL)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { _, err := l.Accept(); done <- err }()
	time.Sleep(50 * time.Millisecond)
	l.Close()
	select {
	case err := <-done:
		if !errors.Is(err, net.ErrClosed) {
			t.Fatalf("Accept after Close: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not wake Accept")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if _, err := Dial(ctx, testName(t)); err == nil || !errors.Is(err, windows.ERROR_FILE_NOT_FOUND) {
		t.Fatalf("the name must be free after Close: %v", err)
	}
}
