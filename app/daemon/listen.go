package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/ghostwire/ghostwire/app/localapi"
)

// Peer is who is on the other end of a local connection.
type Peer struct {
	UID, GID, PID int
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
			log.Warn("local API call refused", "path", r.URL.Path, "uid", p.UID, "pid", p.PID, "err", err)
			localapi.WriteError(w, &localapi.Error{Code: localapi.CodeForbidden, Message: err.Error()})
			return
		}
		if r.Method != http.MethodGet {
			log.Info("local API call", "path", r.URL.Path, "uid", p.UID, "pid", p.PID)
		}
		inner.ServeHTTP(w, r)
	})
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		ConnContext: func(ctx context.Context, c net.Conn) context.Context {
			p, err := peerCred(c)
			return context.WithValue(ctx, peerKey{}, peerResult{p, err})
		},
	}
	return localapi.ServeHTTP(ctx, l, srv)
}

type peerResult struct {
	p   Peer
	err error
}

func peerFromContext(ctx context.Context) (Peer, error) {
	r, ok := ctx.Value(peerKey{}).(peerResult)
	if !ok {
		return Peer{UID: -1, PID: -1}, errors.New("the caller of the local API could not be identified")
	}
	if r.err != nil {
		return Peer{UID: -1, PID: -1}, fmt.Errorf("the caller of the local API could not be identified: %w", r.err)
	}
	return r.p, nil
}
