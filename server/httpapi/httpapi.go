// Package httpapi serves ghostwire's /v1 API (see docs/api.md): sign-in
// bootstrap, peer registration, status and removal, the admin list, and the
// health endpoints. Every request body is bounded and decoded strictly; every
// refusal is an api.Error whose message says what to do, and an audit line.
package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/netip"
	"path"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"

	"github.com/ghostwire/ghostwire/auth/verify"
	"github.com/ghostwire/ghostwire/server/api"
	"github.com/ghostwire/ghostwire/server/audit"
	"github.com/ghostwire/ghostwire/server/metrics"
	"github.com/ghostwire/ghostwire/server/registry"
)

// TokenVerifier checks a bearer token and says who it belongs to. Refusals
// are *verify.Error (401 or 403); any other error means the check could not
// be made (identity provider unreachable) and answers 503.
type TokenVerifier interface {
	Verify(ctx context.Context, rawToken string) (*verify.Identity, error)
}

// EndpointSource gives the public WireGuard endpoint (host:port) clients
// dial. An error says why it is not known yet (e.g. the LoadBalancer has no
// address); /readyz reports it and registrations answer 503.
type EndpointSource interface {
	Endpoint() (hostport string, err error)
}

// DomainSource gives extra search domains that change at run time (e.g.
// <namespace>.svc.cluster.local for every namespace).
type DomainSource interface {
	SearchDomains() []string
}

// DenyList refuses users whatever their token says (server/denylist).
type DenyList interface {
	// Denied says whether the user (subject, Entra oid) is denied, and by
	// which entry.
	Denied(subject, oid string) (entry string, denied bool)
}

// StaticEndpoint is an EndpointSource for an endpoint given on the command line.
type StaticEndpoint string

// Endpoint returns the configured endpoint.
func (s StaticEndpoint) Endpoint() (string, error) { return string(s), nil }

// Network is what every peer is told besides its own address.
type Network struct {
	ServerPublicKey wgtypes.Key
	Endpoint        EndpointSource
	Routes          []string
	DNSServers      []string
	// SearchDomains and MatchDomains are the static ones; Domains adds more.
	SearchDomains []string
	MatchDomains  []string
	Domains       DomainSource
	MTU           int
	Keepalive     time.Duration
	IdleTimeout   time.Duration
}

// Check is one readiness condition; a non-nil error says what is wrong.
type Check struct {
	Name string
	Func func() error
}

// Options wires a Server.
type Options struct {
	Config   api.Config
	Verifier TokenVerifier
	// Registry keeps the peers of a single server; Peers, when set, replaces
	// it (the shared records of several replicas).
	Registry *registry.Registry
	Peers    Peers
	// Replicas, when set, lists the live replicas in every peer answer.
	Replicas ReplicaSource
	Network  Network
	Audit    *audit.Logger
	Metrics  *metrics.Metrics
	Logger   *slog.Logger
	Ready    []Check
	// TrustedProxies are the Ingress controllers whose X-Forwarded-For is
	// believed for the audit log's remote address.
	TrustedProxies []netip.Prefix
	// Deny, when set, answers 403 to every request of a listed user; the
	// registry should be given the same list (registry.Options.Denied).
	Deny DenyList
}

// Server is the HTTP handler of the API.
type Server struct {
	o   Options
	mux *http.ServeMux
}

// New returns the API handler.
func New(o Options) *Server {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Audit == nil {
		o.Audit = audit.New(o.Logger)
	}
	if o.Metrics == nil {
		o.Metrics = metrics.New()
	}
	if o.Peers == nil && o.Registry != nil {
		o.Peers = local{o.Registry}
	}
	s := &Server{o: o, mux: http.NewServeMux()}
	s.handle("GET "+api.PathConfig, "config", s.getConfig)
	s.handle("POST "+api.PathPeers, "register", s.register)
	s.handle("GET "+api.PathPeers, "list", s.list)
	s.handle("GET "+api.PathPeer+"{key}", "get", s.getPeer)
	s.handle("DELETE "+api.PathPeer+"{key}", "delete", s.deletePeer)
	s.handle("DELETE "+api.PathPeers, "delete_user", s.deleteUserPeers)
	s.handle("GET /healthz", "healthz", s.healthz)
	s.handle("GET /readyz", "readyz", s.readyz)
	s.handle("/", "other", s.notFound)
	return s
}

func (s *Server) handle(pattern, route string, h http.HandlerFunc) {
	s.mux.Handle(pattern, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rw := &statusWriter{ResponseWriter: w, code: http.StatusOK}
		rw.Header().Set("Cache-Control", "no-store")
		rw.Header().Set("X-Content-Type-Options", "nosniff")
		h(rw, r)
		s.o.Metrics.Requests.WithLabelValues(route, fmt.Sprint(rw.code)).Inc()
	}))
}

// MaxHeaderBytes bounds a request's header (request line and fields) with
// a JSON 431. Serve with http.Server.MaxHeaderBytes = HardMaxHeaderBytes:
// net/http itself refuses longer headers before any handler runs, with a
// plain-text 431 that cannot be changed.
const (
	MaxHeaderBytes     = 32 << 10
	HardMaxHeaderBytes = 64 << 10
)

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if n := headerBytes(r); n > MaxHeaderBytes {
		w.Header().Set("Connection", "close")
		writeError(w, http.StatusRequestHeaderFieldsTooLarge, api.CodeBadRequest,
			fmt.Sprintf("the request's header is %d bytes, more than the %d this server reads: send a shorter one (an access token is never that long)", n, MaxHeaderBytes))
		s.o.Metrics.Requests.WithLabelValues("other", "431").Inc()
		return
	}
	// ServeMux would answer a path that is not in canonical form (a raw
	// '"', "//", "/./") with an HTML redirect; the API answers JSON only.
	if p := r.URL.EscapedPath(); p != "*" && cleanPath(p) != p {
		writeError(w, http.StatusBadRequest, api.CodeBadRequest,
			fmt.Sprintf("the URL path %q is not in canonical form: escape the key in the path ('/' as %%2F, '+' as %%2B, '=' as %%3D; Go: url.PathEscape)", p))
		s.o.Metrics.Requests.WithLabelValues("other", "400").Inc()
		return
	}
	s.mux.ServeHTTP(w, r)
}

// cleanPath is path.Clean keeping a trailing slash, as ServeMux does.
func cleanPath(p string) string {
	c := path.Clean(p)
	if strings.HasSuffix(p, "/") && c != "/" {
		c += "/"
	}
	return c
}

// headerBytes is the size of the request line and header fields as sent
// (HTTP/1) or decoded (HTTP/2).
func headerBytes(r *http.Request) int {
	n := len(r.Method) + len(r.RequestURI) + len(r.Proto) + 4
	for k, vs := range r.Header {
		for _, v := range vs {
			n += len(k) + len(v) + 4
		}
	}
	return n + len(r.Host)
}

// notFound answers 405 when the path exists with other methods, else 404.
func (s *Server) notFound(w http.ResponseWriter, r *http.Request) {
	var allow []string
	for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodDelete} {
		r2 := r.Clone(r.Context())
		r2.Method = m
		if _, p := s.mux.Handler(r2); p != "" && p != "/" {
			allow = append(allow, m)
		}
	}
	if len(allow) > 0 {
		w.Header().Set("Allow", strings.Join(allow, ", "))
		writeError(w, http.StatusMethodNotAllowed, api.CodeBadRequest, fmt.Sprintf("%s is not allowed on %s (allowed: %s)", r.Method, r.URL.Path, strings.Join(allow, ", ")))
		return
	}
	writeError(w, http.StatusNotFound, api.CodeNotFound, fmt.Sprintf("%s %s is not part of the ghostwire API (see docs/api.md)", r.Method, r.URL.Path))
}

type statusWriter struct {
	http.ResponseWriter
	code int
}

func (w *statusWriter) WriteHeader(code int) { w.code = code; w.ResponseWriter.WriteHeader(code) }

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, api.Error{Code: code, Message: msg})
}

func (s *Server) getConfig(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, s.o.Config)
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// readyz answers 200 only when every check passes; otherwise 503 with every
// failing check and what to do about it.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	var failing []string
	for _, c := range s.o.Ready {
		if err := c.Func(); err != nil {
			failing = append(failing, c.Name+": "+err.Error())
		}
	}
	if len(failing) > 0 {
		writeError(w, http.StatusServiceUnavailable, api.CodeUnavailable, "not ready: "+strings.Join(failing, "; "))
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}

// authenticate returns the caller's identity or writes the refusal.
func (s *Server) authenticate(w http.ResponseWriter, r *http.Request, action string) (*verify.Identity, bool) {
	h := r.Header.Get("Authorization")
	scheme, raw, ok := strings.Cut(h, " ")
	raw = strings.TrimSpace(raw)
	if h == "" || !ok || !strings.EqualFold(scheme, "Bearer") || raw == "" {
		w.Header().Set("WWW-Authenticate", `Bearer realm="ghostwire"`)
		msg := "sign in first: this request needs an access token (Authorization: Bearer <token>)"
		if h != "" {
			msg = "the Authorization header must be 'Bearer <access token>': sign in again"
		}
		s.deny(r, w, action, nil, "", http.StatusUnauthorized, api.CodeUnauthorized, msg, "no bearer token")
		return nil, false
	}
	id, err := s.o.Verifier.Verify(r.Context(), raw)
	if err != nil {
		var ve *verify.Error
		if errors.As(err, &ve) {
			// Clients branch on api codes; the verifier's own code goes to the audit line.
			status, code := http.StatusUnauthorized, api.CodeUnauthorized
			switch ve.Status {
			case http.StatusForbidden:
				status, code = http.StatusForbidden, api.CodeForbidden
				if ve.Scope != "" { // RFC 6750 §3.1
					w.Header().Set("WWW-Authenticate", fmt.Sprintf(`Bearer realm="ghostwire", error="insufficient_scope", scope=%q`, ve.Scope))
				}
			case http.StatusServiceUnavailable:
				status, code = http.StatusServiceUnavailable, api.CodeUnavailable
				if ve.RetryAfter > 0 {
					w.Header().Set("Retry-After", strconv.Itoa(int((ve.RetryAfter+time.Second-1)/time.Second)))
				}
			default:
				w.Header().Set("WWW-Authenticate", `Bearer realm="ghostwire", error="invalid_token"`)
			}
			reason := ve.Reason
			if ve.Code != "" {
				reason = ve.Code + ": " + reason
			}
			s.deny(r, w, action, nil, "", status, code, ve.Message, reason)
			return nil, false
		}
		s.o.Logger.Error("token check failed", "error", err.Error())
		s.deny(r, w, action, nil, "", http.StatusServiceUnavailable, api.CodeUnavailable,
			"the server cannot check your sign-in right now (identity provider unreachable); try again in a minute", err.Error())
		return nil, false
	}
	if id == nil || id.Subject == "" {
		s.deny(r, w, action, nil, "", http.StatusUnauthorized, api.CodeUnauthorized, "your token does not identify a user: sign in again", "verifier returned no subject")
		return nil, false
	}
	if entry, denied := s.denied(id.Subject, id.ObjectID); denied {
		s.deny(r, w, action, id, "", http.StatusForbidden, api.CodeForbidden, msgDenied, "deny list: "+entry)
		return nil, false
	}
	return id, true
}

// deny writes the error, counts it and audits it.
func (s *Server) deny(r *http.Request, w http.ResponseWriter, action string, id *verify.Identity, key string, status int, code, msg, reason string) {
	e := audit.Event{Decision: "deny", Action: action, Key: key, Remote: s.remote(r), Reason: reason, Status: status}
	if e.Reason == "" {
		e.Reason = code
	}
	if id != nil {
		e.Subject, e.Name = id.Subject, id.Name
	}
	s.o.Audit.Log(r.Context(), e)
	if action == "register" {
		s.o.Metrics.Registrations.WithLabelValues(code).Inc()
	}
	writeError(w, status, code, msg)
}

// decodeStrict reads one JSON object of at most api.MaxBodyBytes with no
// unknown fields, no member given twice, names in their exact case, and
// nothing after it.
func decodeStrict(w http.ResponseWriter, r *http.Request, v any) (status int, msg string) {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != "application/json" {
			return http.StatusUnsupportedMediaType, fmt.Sprintf("send the body as JSON (Content-Type: application/json), not %q", ct)
		}
	}
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, api.MaxBodyBytes))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return http.StatusRequestEntityTooLarge, fmt.Sprintf("request body is larger than %d bytes", api.MaxBodyBytes)
		}
		return http.StatusBadRequest, "request body could not be read: " + err.Error()
	}
	return decodeBody(b, v)
}

// decodeBody is decodeStrict once the body is read (also the fuzz target).
func decodeBody(b []byte, v any) (status int, msg string) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var syn *json.SyntaxError
		var typ *json.UnmarshalTypeError
		switch {
		case errors.Is(err, io.EOF):
			return http.StatusBadRequest, "request body is empty: send a JSON object"
		case errors.As(err, &syn), errors.Is(err, io.ErrUnexpectedEOF):
			return http.StatusBadRequest, "request body is not valid JSON"
		case errors.As(err, &typ):
			return http.StatusBadRequest, fmt.Sprintf("field %q must be a JSON %s", typ.Field, typ.Type.Kind())
		case strings.HasPrefix(err.Error(), "json: unknown field "):
			return http.StatusBadRequest, fmt.Sprintf("unknown field %s: this server accepts only the fields in docs/api.md (update ghostwire?)", strings.TrimPrefix(err.Error(), "json: unknown field "))
		default:
			return http.StatusBadRequest, "request body could not be read as JSON: " + err.Error()
		}
	}
	if _, err := dec.Token(); err != io.EOF {
		return http.StatusBadRequest, "request body must be a single JSON object with nothing after it"
	}
	if err := checkMembers(b, v); err != nil {
		return http.StatusBadRequest, err.Error()
	}
	return 0, ""
}

func checkDeviceName(s string) error {
	if !utf8.ValidString(s) {
		return errors.New("device_name is not valid UTF-8")
	}
	if utf8.RuneCountInString(s) > 64 {
		return errors.New("device_name is longer than 64 characters")
	}
	for _, r := range s {
		if !unicode.IsPrint(r) {
			return errors.New("device_name may hold printable characters only")
		}
	}
	return nil
}
