// Package serverclient is the client of ghostwire-server's /v1 API. It speaks
// the server/api types, trusts the system roots plus an optional private CA
// (there is no switch to skip verification), and maps the server's error
// codes to the engine's error kinds with messages for people.
package serverclient

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/ghostwire/ghostwire/app/engine"
	"github.com/ghostwire/ghostwire/server/api"
)

// maxAnswerBytes bounds what is read from the server.
const maxAnswerBytes = 1 << 20

// deviceCapMessage says what works when the server has as many devices of
// this account as it allows. This device's own earlier peers are never the
// cause: every registration replaces the last one (even one a crashed
// daemon left), so only other devices, or peers of this one from before an
// update, count.
const deviceCapMessage = "your account already has as many devices connected to this server as it allows: " +
	"run `ghostwire down` on one of your other devices, or wait until the ones that are off or asleep expire " +
	"(the server removes a device after its idle timeout, 10 minutes by default); your admin can also remove them now"

// Client talks to one server.
type Client struct {
	base *url.URL
	hc   *http.Client
}

// New returns a client for the server at baseURL. caPEM, when set, holds
// certificates trusted in addition to the system roots.
func New(baseURL string, caPEM []byte) (*Client, error) {
	u, err := ParseServerURL(baseURL)
	if err != nil {
		return nil, err
	}
	tr, err := NewTransport(caPEM) // no proxy: the API is reached directly, like the WireGuard endpoint
	if err != nil {
		return nil, err
	}
	return &Client{base: u, hc: &http.Client{Transport: tr, Timeout: 20 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}, nil
}

// CloseIdleConnections closes the pooled connections no request uses: after
// a network change or a wake they may belong to an address that is gone.
func (c *Client) CloseIdleConnections() { c.hc.CloseIdleConnections() }

// CertPool is the system's roots plus the certificates in caPEM.
func CertPool(caPEM []byte) (*x509.CertPool, error) {
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(caPEM) {
		return nil, errors.New("the private CA holds no PEM certificate: run `ghostwire up --ca-file <your CA's .pem>` again")
	}
	return pool, nil
}

// Config fetches GET /v1/config.
func (c *Client) Config(ctx context.Context) (api.Config, error) {
	var out api.Config
	err := c.do(ctx, http.MethodGet, api.PathConfig, "", nil, &out)
	return out, err
}

// Register posts a public key: POST /v1/peers.
func (c *Client) Register(ctx context.Context, token string, req api.RegisterRequest) (api.Peer, error) {
	var out api.Peer
	err := c.do(ctx, http.MethodPost, api.PathPeers, token, req, &out)
	return out, err
}

// Peer reads our own peer: GET /v1/peers/{key}.
func (c *Client) Peer(ctx context.Context, token, key string) (api.Peer, error) {
	var out api.Peer
	err := c.do(ctx, http.MethodGet, api.PathPeer+url.PathEscape(key), token, nil, &out)
	return out, err
}

// DeletePeer removes our peer: DELETE /v1/peers/{key}.
func (c *Client) DeletePeer(ctx context.Context, token, key string) error {
	return c.do(ctx, http.MethodDelete, api.PathPeer+url.PathEscape(key), token, nil, nil)
}

func (c *Client) do(ctx context.Context, method, path, token string, in, out any) error {
	var body []byte
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = b
	}
	resp, err := c.send(ctx, method, path, token, body)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return transportError(c.base.Host, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswerBytes))
	if err != nil {
		return &engine.ServerError{Kind: engine.ErrUnreachable, Message: fmt.Sprintf("the server %s stopped answering mid-way: %v", c.base.Host, err)}
	}
	if resp.StatusCode/100 != 2 {
		return answerError(c.base.Host, resp.StatusCode, b)
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(b, out); err != nil {
		return &engine.ServerError{Kind: engine.ErrRejected, Message: fmt.Sprintf(
			"the server %s sent an answer this client cannot read (%v): is the URL right, and are client and server versions compatible?", c.base.Host, err)}
	}
	return nil
}

// send makes one request. Sent on a reused connection and unanswered
// within staleAfter, it rode a connection that died under it (the laptop's
// address changed, a NAT forgot the flow): that connection is closed and
// the request sent once more, on a new one. Every call of this API may be
// repeated: reads and deletes are idempotent, and registering a key again
// returns the same peer.
func (c *Client) send(ctx context.Context, method, path, token string, body []byte) (*http.Response, error) {
	for attempt := 1; ; attempt++ {
		// path is already escaped (keys hold '/', '+' and '=').
		var w staleWatch
		req, err := http.NewRequestWithContext(w.trace(ctx), method, c.base.String()+path, bytes.NewReader(body))
		if err != nil {
			return nil, err
		}
		if body == nil {
			req.Body, req.ContentLength = nil, 0
		}
		req.Header.Set("Accept", "application/json")
		if body != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := c.hc.Do(req)
		stale := w.done()
		if err == nil || !stale || attempt == 2 || ctx.Err() != nil {
			return resp, err
		}
	}
}

func transportError(host string, err error) error {
	var uerr x509.UnknownAuthorityError
	var herr x509.HostnameError
	var cerr *tls.CertificateVerificationError
	switch {
	case errors.As(err, &uerr) || (errors.As(err, &cerr) && strings.Contains(err.Error(), "unknown authority")):
		return &engine.ServerError{Kind: engine.ErrRejected, Message: fmt.Sprintf(
			"the certificate of %s is not signed by an authority this machine trusts: if your organisation uses a private CA, pass it with --ca-file", host)}
	case errors.As(err, &herr):
		return &engine.ServerError{Kind: engine.ErrRejected, Message: fmt.Sprintf(
			"the certificate of %s is not valid for that name: check the server URL", host)}
	case errors.As(err, &cerr):
		return &engine.ServerError{Kind: engine.ErrRejected, Message: fmt.Sprintf("the certificate of %s cannot be trusted: %v", host, cerr.Err)}
	}
	// The URL is in the message already: say only what went wrong.
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return &engine.ServerError{Kind: engine.ErrUnreachable, Message: fmt.Sprintf(
		"cannot reach the ghostwire server %s (%s): check your network and the server URL", host, clean(err.Error(), 200))}
}

// answerError maps the server's api.Error to the engine's kinds.
func answerError(host string, status int, body []byte) error {
	var e api.Error
	if json.Unmarshal(body, &e) != nil || e.Code == "" {
		msg := clean(string(body), 200)
		kind := engine.ErrRejected
		switch {
		case status == http.StatusNotFound:
			kind = engine.ErrNotFound
		case status == http.StatusUnauthorized:
			kind = engine.ErrUnauthorized
		case status == http.StatusForbidden:
			kind = engine.ErrForbidden
		case status >= 500:
			kind = engine.ErrUnreachable
		}
		return &engine.ServerError{Kind: kind, Message: fmt.Sprintf("the server %s answered %d %s: %s (is the URL a ghostwire server?)", host, status, http.StatusText(status), msg)}
	}
	msg := clean(e.Message, maxMessage)
	if msg == "" {
		msg = fmt.Sprintf("the server %s refused the request (%s)", host, clean(e.Code, 64))
	}
	kind := engine.ErrRejected
	switch e.Code {
	case api.CodeNotFound:
		kind = engine.ErrNotFound
	case api.CodeUnauthorized:
		kind = engine.ErrUnauthorized
	case api.CodeForbidden:
		// Signed in but not allowed (role, group, deny list, or a missing
		// scope: 403 insufficient_scope): a person must act, signing in
		// again would bring the same token.
		kind = engine.ErrForbidden
	case api.CodeUnavailable, api.CodeInternal, api.CodePoolExhausted:
		// The server cannot serve now (its sign-in provider's keys
		// unreachable, no endpoint yet...): retry, never sign in again.
		kind = engine.ErrUnreachable
	case api.CodeTooManyPeers:
		kind, msg = engine.ErrDeviceCap, deviceCapMessage
	case api.CodeConflict, api.CodeBadRequest:
		kind = engine.ErrRejected
	}
	return &engine.ServerError{Kind: kind, Message: msg}
}

// maxMessage bounds a message from the server shown to a person.
const maxMessage = 1000

// clean makes text from the server fit to show in a terminal, a log or a
// notification: valid UTF-8, no control characters (a hostile server could
// otherwise move the cursor, clear the screen or forge lines), at most max
// bytes.
func clean(s string, max int) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || r == utf8.RuneError || unicode.Is(unicode.Bidi_Control, r) {
			return ' '
		}
		return r
	}, strings.ToValidUTF8(s, "?"))
	s = strings.TrimSpace(s)
	if len(s) > max {
		s = strings.ToValidUTF8(s[:max], "") + "…"
	}
	return s
}
