package daemon

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/ghostwire/ghostwire/app/engine"
	"github.com/ghostwire/ghostwire/app/serverclient"
	"github.com/ghostwire/ghostwire/auth/signin"
	"github.com/ghostwire/ghostwire/server/api"
)

// SignInFactory adapts auth/signin to the engine's port. The identity
// provider is trusted with the system roots plus the profile's private CA, if
// any (an on-premises provider often shares the private CA).
func SignInFactory(log *slog.Logger) func(cfg api.Config, caPEM []byte) (engine.SignIn, error) {
	return func(cfg api.Config, caPEM []byte) (engine.SignIn, error) {
		hc, err := providerClient(caPEM)
		if err != nil {
			return nil, err
		}
		s, err := signin.New(cfg, signin.Options{HTTPClient: hc, Logger: log})
		if err != nil {
			return nil, err
		}
		return &signInAdapter{s: s, hc: hc}, nil
	}
}

// providerClient reaches the OpenID provider, trusting the profile's
// private CA too (the same one as for the server: a private deployment
// usually signs both), with the server client's bounds on dead connections.
func providerClient(caPEM []byte) (*http.Client, error) {
	tr, err := serverclient.NewTransport(caPEM)
	if err != nil {
		return nil, err
	}
	tr.Proxy = http.ProxyFromEnvironment // a public provider may sit behind the proxy
	return &http.Client{Transport: tr, Timeout: 30 * time.Second}, nil
}

type signInAdapter struct {
	s  *signin.Session
	hc *http.Client
}

// CloseIdleConnections drops the pooled connections to the provider (after
// a network change or a wake).
func (a *signInAdapter) CloseIdleConnections() { a.hc.CloseIdleConnections() }

func (a *signInAdapter) SignIn(ctx context.Context, mode engine.SignInMode, prompt func(engine.Prompt)) error {
	m := signin.Auto
	if mode == engine.SignInDeviceCode {
		m = signin.DeviceCode
	}
	return a.s.SignIn(ctx, m, func(p signin.Prompt) {
		prompt(engine.Prompt{BrowserURL: p.BrowserURL, VerificationURI: p.VerificationURI,
			VerificationURIComplete: p.VerificationURIComplete, UserCode: p.UserCode, ExpiresAt: p.ExpiresAt})
	})
}

func (a *signInAdapter) Token(ctx context.Context) (engine.Token, error) {
	t, err := a.s.Token(ctx)
	if errors.Is(err, signin.ErrSignInRequired) {
		msg := "your sign-in has expired and could not be renewed: run `ghostwire login` (or choose Sign in from the menu)"
		if err.Error() != signin.ErrSignInRequired.Error() {
			msg += " (" + err.Error() + ")"
		}
		return engine.Token{}, &engine.ServerError{Kind: engine.ErrSignInRequired, Message: msg}
	}
	if err != nil {
		return engine.Token{}, err
	}
	return engine.Token{AccessToken: t.AccessToken, ExpiresAt: t.ExpiresAt, User: t.User}, nil
}

func (a *signInAdapter) Logout() { a.s.Logout() }
