package localapi

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
)

// SocketEnv overrides the socket path for both the daemon and its front ends.
const SocketEnv = "GHOSTWIRE_SOCKET"

// SocketPath is the socket to use: $GHOSTWIRE_SOCKET, else the OS default.
func SocketPath() string {
	if p := os.Getenv(SocketEnv); p != "" {
		return p
	}
	return defaultSocketPath
}

// Client talks to the daemon over its local socket.
type Client struct {
	path string
	hc   *http.Client
}

// NewClient returns a client for the daemon listening on socketPath.
func NewClient(socketPath string) *Client {
	tr := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return dialLocal(ctx, socketPath)
		},
		DisableCompression: true,
	}
	return &Client{path: socketPath, hc: &http.Client{Transport: tr}}
}

// Status returns the daemon's current state.
func (c *Client) Status(ctx context.Context) (Status, error) {
	var s Status
	err := c.do(ctx, http.MethodGet, pathStatus, nil, &s)
	return s, err
}

// Up connects a profile. It returns once the daemon has accepted the request;
// follow progress with Watch.
func (c *Client) Up(ctx context.Context, req UpRequest) (Status, error) {
	var s Status
	err := c.do(ctx, http.MethodPost, pathUp, req, &s)
	return s, err
}

// Down disconnects a profile (or all with req.All).
func (c *Client) Down(ctx context.Context, req ProfileRequest) (Status, error) {
	return c.profileCall(ctx, pathDown, req)
}

// Login signs in again without connecting.
func (c *Client) Login(ctx context.Context, req ProfileRequest) (Status, error) {
	return c.profileCall(ctx, pathLogin, req)
}

// Logout forgets the profile's tokens (and disconnects it).
func (c *Client) Logout(ctx context.Context, req ProfileRequest) (Status, error) {
	return c.profileCall(ctx, pathLogout, req)
}

// Extend renews the profile's peer before its lifetime ends.
func (c *Client) Extend(ctx context.Context, req ProfileRequest) (Status, error) {
	return c.profileCall(ctx, pathExtend, req)
}

// Remove disconnects a profile and forgets it.
func (c *Client) Remove(ctx context.Context, req ProfileRequest) (Status, error) {
	return c.profileCall(ctx, pathRemove, req)
}

func (c *Client) profileCall(ctx context.Context, path string, req ProfileRequest) (Status, error) {
	var s Status
	err := c.do(ctx, http.MethodPost, path, req, &s)
	return s, err
}

// Watch calls fn with the current Status and then with every change until ctx
// ends, fn returns an error, or the daemon goes away (then it returns an error
// with CodeNoDaemon, and the caller may retry).
func (c *Client) Watch(ctx context.Context, fn func(Status) error) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://ghostwire"+pathWatch, nil)
	if err != nil {
		return err
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return c.transportError(ctx, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return readError(resp)
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	for sc.Scan() {
		var s Status
		if err := json.Unmarshal(sc.Bytes(), &s); err != nil {
			return fmt.Errorf("daemon sent an unreadable status: %w", err)
		}
		if err := fn(s); err != nil {
			return err
		}
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return Errorf(CodeNoDaemon, "the ghostwire daemon closed the connection (did it stop?)")
}

func (c *Client) do(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://ghostwire"+path, body)
	if err != nil {
		return err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return c.transportError(ctx, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return readError(resp)
	}
	if out == nil {
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("daemon sent an unreadable answer: %w", err)
	}
	return nil
}

func (c *Client) transportError(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if errors.Is(err, os.ErrNotExist) || errors.Is(err, errConnRefused) || isNoDaemon(err) {
		return Errorf(CodeNoDaemon, "the ghostwire daemon is not running (no one listens on %s): %s", c.path, startDaemonHint)
	}
	if errors.Is(err, os.ErrPermission) {
		return Errorf(CodeForbidden, "you may not talk to the ghostwire daemon on %s: ask your admin to add you to the ghostwire group", c.path)
	}
	return Errorf(CodeNoDaemon, "cannot reach the ghostwire daemon on %s: %v", c.path, err)
}

func readError(resp *http.Response) error {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	var e Error
	if json.Unmarshal(b, &e) == nil && e.Code != "" {
		return &e
	}
	return Errorf(CodeInternal, "daemon answered %s: %s", resp.Status, bytes.TrimSpace(b))
}
