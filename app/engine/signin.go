package engine

import (
	"context"
	"errors"
	"fmt"

	"github.com/ghostwire/ghostwire/app/localapi"
)

// Sign-in: the server's config names the provider; the session lives in
// memory, renews silently, and asks a person only on an interactive start.

func (e *Engine) prompt(pr Prompt) {
	e.update(func(p *localapi.Profile) {
		e.promptSeq++
		p.SignIn = &localapi.SignInPrompt{
			BrowserURL: pr.BrowserURL, VerificationURI: pr.VerificationURI,
			VerificationURIComplete: pr.VerificationURIComplete, UserCode: pr.UserCode,
			ExpiresAt: pr.ExpiresAt, Seq: e.promptSeq,
		}
	})
}

// ensureSigner fetches the server's config once and makes its sign-in session.
func (e *Engine) ensureSigner(ctx context.Context) (SignIn, error) {
	if s := e.signerNow(); s != nil {
		return s, nil
	}
	cfg, err := e.c.API.Config(ctx)
	if err != nil {
		return nil, err
	}
	s, err := e.c.NewSignIn(cfg)
	if err != nil {
		return nil, &ServerError{Kind: ErrRejected, Message: fmt.Sprintf("the server asks for a sign-in this client cannot do: %v", err)}
	}
	e.mu.Lock()
	e.signer, e.serverCfg = s, &cfg
	e.mu.Unlock()
	return s, nil
}

// token returns a valid token; when interactive, it runs the sign-in flow if
// silent renewal is impossible.
func (e *Engine) token(ctx context.Context, interactive bool, mode SignInMode) (Token, error) {
	s, err := e.ensureSigner(ctx)
	if err != nil {
		return Token{}, err
	}
	tok, err := s.Token(ctx)
	if errors.Is(err, ErrSignInRequired) && interactive {
		e.setState(localapi.StateSigningIn, "waiting for you to sign in")
		if err := s.SignIn(ctx, mode, e.prompt); err != nil {
			if ctx.Err() != nil {
				return Token{}, ctx.Err()
			}
			if errors.Is(err, ErrUnreachable) || errors.Is(err, ErrSignInFailed) {
				return Token{}, err
			}
			return Token{}, &ServerError{Kind: ErrSignInFailed, Message: fmt.Sprintf("sign-in did not finish: %v; run `ghostwire up` to try again", err)}
		}
		e.update(func(p *localapi.Profile) { p.SignIn = nil })
		tok, err = s.Token(ctx)
	}
	if err != nil {
		return Token{}, err
	}
	e.update(func(p *localapi.Profile) {
		p.User = tok.User
		if !tok.SessionExpiresAt.IsZero() {
			t := tok.SessionExpiresAt
			p.SessionExpiresAt = &t
		}
	})
	return tok, nil
}

func (e *Engine) loginOnly(ctx context.Context, mode SignInMode) {
	_, err := e.token(ctx, true, mode)
	if ctx.Err() != nil {
		return
	}
	if err != nil {
		e.fail(err)
		return
	}
	e.setState(localapi.StateDisconnected, "signed in")
}
