package localapi

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"
)

// Paths served on the local socket.
const (
	pathStatus = "/v1/status"
	pathWatch  = "/v1/watch"
	pathUp     = "/v1/up"
	pathDown   = "/v1/down"
	pathLogin  = "/v1/login"
	pathLogout = "/v1/logout"
	pathExtend = "/v1/extend"
	pathRemove = "/v1/remove"
)

// maxRequestBytes bounds a request body: a few small fields, and at most
// one private CA (MaxCAPEM, JSON-escaped).
const maxRequestBytes = 2*MaxCAPEM + 16<<10

// Backend is what the daemon implements. Calls return quickly: Up starts the
// connection and progress is reported through Status/Watch.
type Backend interface {
	Status() Status
	// Subscribe returns a channel that receives the latest Status whenever it
	// changes (slow readers see only the newest) and a func to stop.
	Subscribe() (<-chan Status, func())
	Up(ctx context.Context, req UpRequest) error
	Down(ctx context.Context, req ProfileRequest) error
	Login(ctx context.Context, req ProfileRequest) error
	Logout(ctx context.Context, req ProfileRequest) error
	// Extend renews the peer (new key, new lifetime) before it expires.
	Extend(ctx context.Context, req ProfileRequest) error
	// Remove disconnects a profile and forgets it.
	Remove(ctx context.Context, req ProfileRequest) error
}

// NewHandler serves b over HTTP. Callers are authorized by the listener (peer
// credentials) before a request reaches it.
func NewHandler(b Backend, log *slog.Logger) http.Handler {
	if log == nil {
		log = slog.Default()
	}
	h := &handler{b: b, log: log}
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+pathStatus, h.status)
	mux.HandleFunc("GET "+pathWatch, h.watch)
	mux.HandleFunc("POST "+pathUp, h.up)
	mux.HandleFunc("POST "+pathDown, profileCall(h, b.Down))
	mux.HandleFunc("POST "+pathLogin, profileCall(h, b.Login))
	mux.HandleFunc("POST "+pathLogout, profileCall(h, b.Logout))
	mux.HandleFunc("POST "+pathExtend, profileCall(h, b.Extend))
	mux.HandleFunc("POST "+pathRemove, profileCall(h, b.Remove))
	return mux
}

// Serve serves b on l until ctx ends.
func Serve(ctx context.Context, l net.Listener, b Backend, log *slog.Logger) error {
	return ServeHTTP(ctx, l, &http.Server{Handler: NewHandler(b, log), ReadHeaderTimeout: 5 * time.Second})
}

// ServeHTTP runs srv on l and shuts it down gracefully when ctx ends. The
// daemon builds srv itself to wrap NewHandler with its caller checks.
func ServeHTTP(ctx context.Context, l net.Listener, srv *http.Server) error {
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	err := srv.Serve(l)
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// WriteError answers a request with e in the protocol's error body.
func WriteError(w http.ResponseWriter, e *Error) { writeJSON(w, httpStatus(e.Code), e) }

type handler struct {
	b   Backend
	log *slog.Logger
}

func (h *handler) status(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, h.b.Status())
}

// watch streams Status as newline-delimited JSON, the current one first.
func (h *handler) watch(w http.ResponseWriter, r *http.Request) {
	ch, stop := h.b.Subscribe()
	defer stop()
	fl, _ := w.(http.Flusher)
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.WriteHeader(http.StatusOK)
	enc := json.NewEncoder(w)
	send := func(s Status) bool {
		if err := enc.Encode(s); err != nil {
			return false
		}
		if fl != nil {
			fl.Flush()
		}
		return true
	}
	if !send(h.b.Status()) {
		return
	}
	for {
		select {
		case <-r.Context().Done():
			return
		case s, ok := <-ch:
			if !ok || !send(s) {
				return
			}
		}
	}
}

func (h *handler) up(w http.ResponseWriter, r *http.Request) {
	var req UpRequest
	if !decode(w, r, &req) {
		return
	}
	h.reply(w, r, h.b.Up(r.Context(), req))
}

func profileCall(h *handler, call func(context.Context, ProfileRequest) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var req ProfileRequest
		if !decode(w, r, &req) {
			return
		}
		h.reply(w, r, call(r.Context(), req))
	}
}

func (h *handler) reply(w http.ResponseWriter, r *http.Request, err error) {
	if err == nil {
		writeJSON(w, http.StatusOK, h.b.Status())
		return
	}
	var e *Error
	if !errors.As(err, &e) {
		h.log.Error("local api call failed", "path", r.URL.Path, "err", err)
		e = &Error{Code: CodeInternal, Message: err.Error()}
	}
	writeJSON(w, httpStatus(e.Code), e)
}

func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxRequestBytes))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil && !errors.Is(err, io.EOF) {
		writeJSON(w, http.StatusBadRequest, Errorf(CodeBadRequest,
			"the request could not be read (%v); front end and daemon versions may differ: reinstall ghostwire", err))
		return false
	}
	return true
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}
