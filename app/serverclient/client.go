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
	"net"
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

// Client talks to one server.
type Client struct {
	base *url.URL
	hc   *http.Client
}

// ParseServerURL checks a server URL: https, or http to a loopback address
// only (local development: a token must never cross a network in clear).
func ParseServerURL(raw string) (*url.URL, error) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return nil, errors.New("the server URL is empty: give it as https://vpn.example.com")
	}
	if !strings.Contains(raw, "://") {
		raw = "https://" + raw
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("%q is not a server URL: give it as https://vpn.example.com", raw)
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("the server URL %q must not hold a user, query or fragment", raw)
	}
	switch u.Scheme {
	case "https":
	case "http":
		ip := net.ParseIP(u.Hostname())
		if u.Hostname() != "localhost" && (ip == nil || !ip.IsLoopback()) {
			return nil, fmt.Errorf("the server URL %q uses plain http, which would send your token in clear text: use https", raw)
		}
	default:
		return nil, fmt.Errorf("the server URL %q must start with https://", raw)
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	return u, nil
}

// New returns a client for the server at baseURL. caPEM, when set, holds
// certificates trusted in addition to the system roots.
func New(baseURL string, caPEM []byte) (*Client, error) {
	u, err := ParseServerURL(baseURL)
	if err != nil {
		return nil, err
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	if len(caPEM) > 0 {
		pool, err := CertPool(caPEM)
		if err != nil {
			return nil, err
		}
		tr.TLSClientConfig.RootCAs = pool
	}
	tr.Proxy = nil // the API is reached directly, like the WireGuard endpoint
	return &Client{base: u, hc: &http.Client{Transport: tr, Timeout: 20 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}, nil
}

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
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	// path is already escaped (keys hold '/', '+' and '=').
	req, err := http.NewRequestWithContext(ctx, method, c.base.String()+path, body)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := c.hc.Do(req)
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
	return &engine.ServerError{Kind: engine.ErrUnreachable, Message: fmt.Sprintf(
		"cannot reach the ghostwire server %s (%v): check your network and the server URL", host, err)}
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
	case api.CodeTooManyPeers, api.CodeConflict, api.CodeBadRequest:
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
