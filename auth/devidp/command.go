package devidp

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
)

// Command is `dev-idp`: the development provider as a process. Mount it under
// a binary (ghostwire-server dev-idp).
func Command() *cobra.Command {
	var (
		listen, issuer, certFile, keyFile, usersFile string
		insecureHTTP, iKnow                          bool
		userFlags                                    []string
		opts                                         Options
	)
	cmd := &cobra.Command{
		Use:   "dev-idp",
		Short: "Run the development OpenID provider (device flow, no passwords; for demos and tests only)",
		Long: `Run a development OpenID provider in memory: discovery, JWKS, device authorization,
authorization code + PKCE for a loopback redirect, refresh tokens and JWT access tokens with
roles, groups, tid, oid and scp. There are no passwords: anyone who reaches it can sign in as
any configured user. It listens on loopback only unless --i-know-this-is-insecure is given.

Approve a device code without a browser:
  curl -X POST https://127.0.0.1:8444/dev/approve -H 'Content-Type: application/json' \
       -d '{"user_code":"BCDF-GHJK","user":"demo@example.com"}'
Pending codes: GET /dev/pending.  Users: demo@example.com (VPN.User), guest@example.com (no
role), admin@example.com (VPN.User, VPN.Admin); or --users-file (JSON array of
{"username","sub","oid","name","roles","groups"}) and/or --user name:role,role:group.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log := slog.New(slog.NewJSONHandler(cmd.ErrOrStderr(), nil))
			if err := checkListen(listen, iKnow); err != nil {
				return err
			}
			if !isLoopbackListen(listen) {
				log.Warn("WARNING: the development OpenID provider is listening on a non-loopback address. "+
					"It has no passwords: anyone who reaches it can sign in as any user. Never run it on a shared network.",
					"listen", listen)
			}
			useTLS := certFile != "" || keyFile != ""
			switch {
			case useTLS && insecureHTTP:
				return errors.New("give either --tls-cert/--tls-key or --insecure-http, not both")
			case useTLS && (certFile == "" || keyFile == ""):
				return errors.New("--tls-cert and --tls-key go together")
			case !useTLS && !insecureHTTP:
				return errors.New("give --tls-cert and --tls-key (a certificate for the issuer's host), or --insecure-http for plain HTTP on loopback")
			}
			scheme := "https"
			if insecureHTTP {
				scheme = "http"
				log.Warn("WARNING: serving plain HTTP (--insecure-http): tokens travel unencrypted; use for local development only")
			}
			if issuer == "" {
				issuer = scheme + "://" + listen
			}
			if usersFile != "" {
				users, err := LoadUsers(usersFile)
				if err != nil {
					return err
				}
				opts.Users = users
			}
			for _, f := range userFlags {
				u, err := ParseUserFlag(f)
				if err != nil {
					return err
				}
				opts.Users = append(opts.Users, u)
			}
			opts.Issuer, opts.Logger = issuer, log
			p, err := New(opts)
			if err != nil {
				return err
			}
			srv := &http.Server{Addr: listen, Handler: p.Handler(), ReadHeaderTimeout: 10 * time.Second}
			if useTLS {
				// Loaded per handshake so a renewed certificate is picked up.
				if _, err := tls.LoadX509KeyPair(certFile, keyFile); err != nil {
					return fmt.Errorf("load TLS certificate: %w", err)
				}
				srv.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
					c, err := tls.LoadX509KeyPair(certFile, keyFile)
					return &c, err
				}}
			}
			ln, err := net.Listen("tcp", listen)
			if err != nil {
				return fmt.Errorf("listen on %s: %w", listen, err)
			}
			log.Info("development OpenID provider ready", "issuer", p.Issuer(), "client_id", p.ClientID(),
				"audience", p.Audience(), "scopes", strings.Join(p.Scopes(), " "), "listen", ln.Addr().String())
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			errc := make(chan error, 1)
			go func() {
				if useTLS {
					errc <- srv.ServeTLS(ln, "", "")
				} else {
					errc <- srv.Serve(ln)
				}
			}()
			select {
			case err := <-errc:
				return err
			case <-ctx.Done():
			}
			sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			return srv.Shutdown(sctx)
		},
	}
	f := cmd.Flags()
	f.StringVar(&listen, "listen", "127.0.0.1:8444", "address to listen on (loopback unless --i-know-this-is-insecure)")
	f.StringVar(&issuer, "issuer", "", "public issuer URL clients use (default <scheme>://<listen>)")
	f.StringVar(&certFile, "tls-cert", "", "TLS certificate file (PEM) for the issuer's host")
	f.StringVar(&keyFile, "tls-key", "", "TLS private key file (PEM)")
	f.BoolVar(&insecureHTTP, "insecure-http", false, "serve plain HTTP (local development only)")
	f.BoolVar(&iKnow, "i-know-this-is-insecure", false, "allow a non-loopback listen address (e.g. inside a test network namespace)")
	f.StringVar(&usersFile, "users-file", "", "JSON array of users (default: demo@, guest@, admin@example.com)")
	f.StringArrayVar(&userFlags, "user", nil, "a user as name[:role,role[:group,group]] (repeatable; replaces the default users, adds to --users-file)")
	f.StringVar(&opts.ClientID, "client-id", DefaultClientID, "public client id")
	f.StringVar(&opts.Audience, "audience", DefaultAudience, "aud of access tokens")
	f.StringVar(&opts.APIScope, "api-scope", DefaultAPIScope, "API scope (lands in scp)")
	f.StringVar(&opts.TenantID, "tenant-id", DefaultTenantID, "tid claim of every token")
	f.DurationVar(&opts.AccessTokenLifetime, "access-token-lifetime", defaultATLife, "access token lifetime")
	f.DurationVar(&opts.RefreshTokenLifetime, "refresh-token-lifetime", defaultRTLife, "refresh token lifetime")
	f.DurationVar(&opts.PollInterval, "poll-interval", defaultPollEvery, "device flow poll interval (whole seconds)")
	return cmd
}

// isLoopbackListen reports whether addr (host:port) binds loopback only.
func isLoopbackListen(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func checkListen(addr string, iKnow bool) error {
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return fmt.Errorf("--listen %q is not host:port: %w", addr, err)
	}
	if !isLoopbackListen(addr) && !iKnow {
		return fmt.Errorf("refusing to listen on %s: the development provider has no passwords and must stay on loopback "+
			"(127.0.0.1). Inside a test network namespace, add --i-know-this-is-insecure", addr)
	}
	return nil
}
