package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/ghostwire/ghostwire/app/localapi"
)

// Peer is who is on the other end of a local connection.
type Peer struct {
	UID, GID, PID int
	// On Windows (the caller's token, read by impersonation): the user's
	// SID and name and the SIDs of its enabled groups. UID and GID are -1
	// there.
	SID    string
	User   string
	Groups []string
}

// logAttrs names the caller in log lines.
func (p Peer) logAttrs() []any {
	if p.SID != "" {
		return []any{"user", p.User, "sid", p.SID, "pid", p.PID}
	}
	return []any{"uid", p.UID, "pid", p.PID}
}

type peerKey struct{}

// Authorizer decides whether a caller may use the daemon.
type Authorizer func(Peer) error

// Serve serves the local API on l until ctx ends. Every connection's caller
// is identified by the OS (SO_PEERCRED on Linux) and checked with allow; a
// refused caller gets a forbidden error, and both are logged with uid and pid.
func Serve(ctx context.Context, l net.Listener, b localapi.Backend, allow Authorizer, log *slog.Logger) error {
	if log == nil {
		log = slog.Default()
	}
	inner := localapi.NewHandler(b, log)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, err := peerFromContext(r.Context())
		if err == nil {
			err = allow(p)
		}
		if err != nil {
			log.Warn("local API call refused", append([]any{"path", r.URL.Path, "err", err}, p.logAttrs()...)...)
			localapi.WriteError(w, &localapi.Error{Code: localapi.CodeForbidden, Message: err.Error()})
			return
		}
		if r.Method != http.MethodGet {
			log.Info("local API call", append([]any{"path", r.URL.Path}, p.logAttrs()...)...)
		}
		inner.ServeHTTP(w, r)
	})
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		// The caller is identified at its first request, not at accept:
		// Windows lets a pipe server read its client's token only after it
		// has read from the pipe.
		ConnContext: func(ctx context.Context, c net.Conn) context.Context {
			return context.WithValue(ctx, peerKey{}, &peerResult{c: c})
		},
	}
	return localapi.ServeHTTP(ctx, l, srv)
}

// peerResult is a connection's caller, identified once.
type peerResult struct {
	c    net.Conn
	once sync.Once
	p    Peer
	err  error
}

func peerFromContext(ctx context.Context) (Peer, error) {
	r, ok := ctx.Value(peerKey{}).(*peerResult)
	if !ok {
		return Peer{UID: -1, PID: -1}, errors.New("the caller of the local API could not be identified")
	}
	r.once.Do(func() { r.p, r.err = peerCred(r.c) })
	if r.err != nil {
		return Peer{UID: -1, PID: -1}, fmt.Errorf("the caller of the local API could not be identified: %w", r.err)
	}
	return r.p, nil
}
