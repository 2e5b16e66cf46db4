package winpipe

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"time"
	"unsafe"

	"golang.org/x/sys/windows"
)

const bufSize = 64 << 10

// ErrTaken is returned by Listen when the name is already served by
// another process.
var ErrTaken = errors.New("the pipe name is already taken")

// addr is a pipe's net.Addr.
type addr string

func (addr) Network() string  { return "pipe" }
func (a addr) String() string { return string(a) }

// Listener accepts clients on a named pipe.
type Listener struct {
	name string
	sa   *windows.SecurityAttributes
	quit windows.Handle // set by Close: wakes a waiting Accept

	mu      sync.Mutex
	pending windows.Handle // the instance the next client connects to
	op      *connectOp     // its ConnectNamedPipe, alive while pending
	closed  bool
}

// connectOp lives on the heap while Windows may write its OVERLAPPED.
type connectOp struct {
	ov windows.Overlapped
}

// Listen creates the first instance of the pipe, and fails with ErrTaken
// when the name exists already (FILE_FLAG_FIRST_PIPE_INSTANCE): a second
// daemon, or a program squatting the name.
func Listen(name, sddl string) (*Listener, error) {
	sd, err := windows.SecurityDescriptorFromString(sddl)
	if err != nil {
		return nil, fmt.Errorf("bad security descriptor for %s: %w", name, err)
	}
	sa := &windows.SecurityAttributes{Length: uint32(unsafe.Sizeof(windows.SecurityAttributes{})), SecurityDescriptor: sd}
	// FILE_FLAG_FIRST_PIPE_INSTANCE refuses a taken name atomically on
	// Windows; Wine ignores it, so look first as well.
	if served(name) {
		return nil, fmt.Errorf("%w: %s", ErrTaken, name)
	}
	h, err := newInstance(name, sa, true)
	if errors.Is(err, windows.ERROR_ACCESS_DENIED) || errors.Is(err, windows.ERROR_PIPE_BUSY) {
		return nil, fmt.Errorf("%w: %s", ErrTaken, name)
	}
	if err != nil {
		return nil, fmt.Errorf("cannot create the pipe %s: %w", name, err)
	}
	quit, err := windows.CreateEvent(nil, 1, 0, nil)
	if err != nil {
		windows.CloseHandle(h)
		return nil, err
	}
	return &Listener{name: name, sa: sa, quit: quit, pending: h}, nil
}

var procWaitNamedPipeW = windows.NewLazySystemDLL("kernel32.dll").NewProc("WaitNamedPipeW")

// served reports whether some process serves name, without connecting to
// it (a connection would let a squatter impersonate us).
func served(name string) bool {
	n, err := windows.UTF16PtrFromString(name)
	if err != nil {
		return false
	}
	r, _, e := procWaitNamedPipeW.Call(uintptr(unsafe.Pointer(n)), 1)
	return r != 0 || !errors.Is(e, windows.ERROR_FILE_NOT_FOUND)
}

func newInstance(name string, sa *windows.SecurityAttributes, first bool) (windows.Handle, error) {
	n, err := windows.UTF16PtrFromString(name)
	if err != nil {
		return 0, err
	}
	flags := uint32(windows.PIPE_ACCESS_DUPLEX | windows.FILE_FLAG_OVERLAPPED)
	if first {
		flags |= windows.FILE_FLAG_FIRST_PIPE_INSTANCE
	}
	mode := uint32(windows.PIPE_TYPE_BYTE | windows.PIPE_READMODE_BYTE | windows.PIPE_WAIT | windows.PIPE_REJECT_REMOTE_CLIENTS)
	return windows.CreateNamedPipe(n, flags, mode, windows.PIPE_UNLIMITED_INSTANCES, bufSize, bufSize, 0, sa)
}

// Accept waits for the next client. The next instance is created before
// the connected one is handed over, so the name is never free for another
// process to take.
func (l *Listener) Accept() (net.Conn, error) {
	for {
		l.mu.Lock()
		if l.closed {
			l.mu.Unlock()
			return nil, net.ErrClosed
		}
		if l.pending == 0 {
			h, err := newInstance(l.name, l.sa, false)
			if err != nil {
				l.mu.Unlock()
				return nil, fmt.Errorf("cannot create an instance of %s: %w", l.name, err)
			}
			l.pending = h
		}
		h, op := l.pending, &connectOp{}
		l.op = op // from here Accept owns h; Close only wakes it
		l.mu.Unlock()

		connected, err := l.connect(h, op)
		next := windows.Handle(0)
		if connected {
			next, _ = newInstance(l.name, l.sa, false) // if it fails, the next Accept tries again
		}
		l.mu.Lock()
		l.op = nil
		l.pending = next
		closed := l.closed
		l.mu.Unlock()
		switch {
		case closed:
			windows.CloseHandle(h)
			if next != 0 {
				windows.CloseHandle(next)
			}
			windows.CloseHandle(l.quit) // Close left it to the Accept it woke
			return nil, net.ErrClosed
		case connected:
			return newConn(h, l.name, true)
		}
		windows.CloseHandle(h) // a client that came and went: wait for the next
		if err != nil {
			return nil, err
		}
	}
}

// connect waits for a client on h, or for Close.
func (l *Listener) connect(h windows.Handle, op *connectOp) (bool, error) {
	ev, err := windows.CreateEvent(nil, 1, 0, nil)
	if err != nil {
		return false, err
	}
	defer windows.CloseHandle(ev)
	op.ov.HEvent = ev
	err = windows.ConnectNamedPipe(h, &op.ov)
	switch {
	case err == nil, errors.Is(err, windows.ERROR_PIPE_CONNECTED):
		return true, nil
	case errors.Is(err, windows.ERROR_NO_DATA): // connected and already gone
		return false, nil
	case !errors.Is(err, windows.ERROR_IO_PENDING):
		return false, fmt.Errorf("accepting a client on %s: %w", l.name, err)
	}
	i, werr := windows.WaitForMultipleObjects([]windows.Handle{ev, l.quit}, false, windows.INFINITE)
	var n uint32
	if werr != nil || i != windows.WAIT_OBJECT_0 {
		_ = windows.CancelIoEx(h, &op.ov)
		_ = windows.GetOverlappedResult(h, &op.ov, &n, true) // Windows is done with op after this
		return false, nil
	}
	if err := windows.GetOverlappedResult(h, &op.ov, &n, false); err != nil && !errors.Is(err, windows.ERROR_PIPE_CONNECTED) {
		return false, nil
	}
	return true, nil
}

// Close stops accepting; connections already accepted stay open.
func (l *Listener) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil
	}
	l.closed = true
	if l.op == nil {
		if l.pending != 0 {
			windows.CloseHandle(l.pending)
			l.pending = 0
		}
		windows.CloseHandle(l.quit)
		return nil
	}
	_ = windows.SetEvent(l.quit) // the waiting Accept closes both
	return nil
}

// Addr is the pipe's name.
func (l *Listener) Addr() net.Addr { return addr(l.name) }

// Conn is one end of a connected pipe.
type Conn struct {
	*os.File
	h      windows.Handle
	name   string
	server bool
}

func newConn(h windows.Handle, name string, server bool) (*Conn, error) {
	f := os.NewFile(uintptr(h), name)
	if f == nil {
		windows.CloseHandle(h)
		return nil, fmt.Errorf("invalid pipe handle for %s", name)
	}
	return &Conn{File: f, h: h, name: name, server: server}, nil
}

func (c *Conn) LocalAddr() net.Addr  { return addr(c.name) }
func (c *Conn) RemoteAddr() net.Addr { return addr(c.name) }

// Dial connects to the pipe at name as an identified client: the server
// may read this process's token (SECURITY_IDENTIFICATION) but cannot act
// as it. The pipe's owner must be SYSTEM or Administrators, otherwise
// someone else serves the name and nothing is said to it.
func Dial(ctx context.Context, name string) (*Conn, error) {
	n, err := windows.UTF16PtrFromString(name)
	if err != nil {
		return nil, err
	}
	for {
		// GENERIC_READ|FILE_WRITE_DATA: GENERIC_WRITE would ask for
		// FILE_CREATE_PIPE_INSTANCE too, which the pipe grants to no client.
		h, err := windows.CreateFile(n, windows.GENERIC_READ|windows.FILE_WRITE_DATA, 0, nil, windows.OPEN_EXISTING,
			windows.FILE_FLAG_OVERLAPPED|windows.SECURITY_SQOS_PRESENT|windows.SECURITY_IDENTIFICATION, 0)
		if err == nil {
			if err := checkOwner(h, name); err != nil {
				windows.CloseHandle(h)
				return nil, err
			}
			return newConn(h, name, false)
		}
		if !errors.Is(err, windows.ERROR_PIPE_BUSY) {
			return nil, &os.PathError{Op: "open", Path: name, Err: err}
		}
		// Every instance is busy for a moment: wait for the next one.
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// checkOwner refuses a pipe whose owner is not SYSTEM or Administrators.
func checkOwner(h windows.Handle, name string) error {
	sd, err := windows.GetSecurityInfo(h, windows.SE_KERNEL_OBJECT, windows.OWNER_SECURITY_INFORMATION)
	if err != nil {
		return fmt.Errorf("cannot tell who serves %s: %w", name, err)
	}
	owner, _, err := sd.Owner()
	if err != nil {
		return fmt.Errorf("cannot tell who serves %s: %w", name, err)
	}
	if owner.IsWellKnown(windows.WinLocalSystemSid) || owner.IsWellKnown(windows.WinBuiltinAdministratorsSid) {
		return nil
	}
	return fmt.Errorf("%s is served by a process owned by %s, not by the ghostwire service (SYSTEM or Administrators): refusing to talk to it", name, owner)
}

// Holder says which process serves the pipe name: to name a squatter.
func Holder(name string) (pid uint32, exe string, err error) {
	n, err := windows.UTF16PtrFromString(name)
	if err != nil {
		return 0, "", err
	}
	// Anonymous: whoever serves the name must not be able to act as us.
	h, err := windows.CreateFile(n, windows.FILE_READ_ATTRIBUTES, 0, nil, windows.OPEN_EXISTING,
		windows.SECURITY_SQOS_PRESENT|windows.SECURITY_ANONYMOUS, 0)
	if err != nil {
		return 0, "", err
	}
	defer windows.CloseHandle(h)
	if err := windows.GetNamedPipeServerProcessId(h, &pid); err != nil {
		return 0, "", err
	}
	return pid, processImage(pid), nil
}

// processImage is the executable of pid, or "" when it cannot be read.
func processImage(pid uint32) string {
	p, err := windows.OpenProcess(windows.PROCESS_QUERY_LIMITED_INFORMATION, false, pid)
	if err != nil {
		return ""
	}
	defer windows.CloseHandle(p)
	buf := make([]uint16, windows.MAX_LONG_PATH)
	size := uint32(len(buf))
	if err := windows.QueryFullProcessImageName(p, 0, &buf[0], &size); err != nil {
		return ""
	}
	return windows.UTF16ToString(buf[:size])
}
