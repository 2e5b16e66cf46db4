package engine

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/ghostwire/ghostwire/server/api"
)

// peerAnswer is the server's answer about our own peer.
type peerAnswer struct {
	peer api.Peer
	err  error
}

// question is the server being asked about our own peer while a forced
// handshake is waited for. The answer is published by closing done, which
// any number of readers may wait on, at any time, any number of times: no
// reader can take the answer from another and leave it waiting (a `down`
// once hung on exactly that). close cancels the question and waits for every
// request it started; they all end with its context, so it is bounded by
// the API client honouring contexts, as every call the engine makes is.
type question struct {
	cancel context.CancelFunc
	wg     sync.WaitGroup
	done   chan struct{} // closed once ans is set
	ans    peerAnswer
}

// ask starts asking the server about the peer with this public key, with
// the session s, for at most askTimeout.
func (e *Engine) ask(ctx context.Context, s SignIn, key string) *question {
	ctx, cancel := context.WithTimeout(ctx, askTimeout)
	q := &question{cancel: cancel, done: make(chan struct{})}
	q.wg.Add(1)
	go func() {
		defer q.wg.Done()
		defer close(q.done)
		if s == nil || key == "" {
			q.ans = peerAnswer{err: errors.New("not signed in")}
			return
		}
		tok, err := s.Token(ctx)
		if err != nil {
			q.ans = peerAnswer{err: err}
			return
		}
		q.ans = e.askPeer(ctx, &q.wg, tok.AccessToken, key)
	}()
	return q
}

// answered is closed once the answer is in.
func (q *question) answered() <-chan struct{} { return q.done }

// peek returns the answer if it is in.
func (q *question) peek() (peerAnswer, bool) {
	select {
	case <-q.done:
		return q.ans, true
	default:
		return peerAnswer{}, false
	}
}

// answer waits for the answer (at most askTimeout).
func (q *question) answer() peerAnswer {
	<-q.done
	return q.ans
}

// close abandons the question and returns once every request it started
// has ended: they share the sign-in session and the API client with the
// run goroutine, and nothing of a run may outlive it.
func (q *question) close() {
	q.cancel()
	q.wg.Wait()
}

// askPeer asks the server about our peer, hedged: while no request has
// come back with an answer, another starts every askHedge (up to askTries),
// so a request whose first packets were lost (a link just back after a
// wake, an address being resolved) is not stuck behind TCP's 1 s and 3 s SYN
// retransmissions. The first answer from the server wins; if none comes, the
// last failure is returned. Every request runs under wg and ends with ctx.
func (e *Engine) askPeer(ctx context.Context, wg *sync.WaitGroup, token, key string) peerAnswer {
	answers := make(chan peerAnswer, askTries) // never blocks, even when abandoned
	ask := func() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p, err := e.c.API.Peer(ctx, token, key)
			answers <- peerAnswer{peer: p, err: err}
		}()
	}
	ask()
	sent, pending := 1, 1
	var last peerAnswer
	for {
		var hedge <-chan time.Time
		if sent < askTries {
			hedge = e.c.Clock.After(askHedge)
		}
		select {
		case a := <-answers:
			pending--
			if !errors.Is(a.err, ErrUnreachable) {
				return a // an answer from the server, good or bad
			}
			last = a
			if pending == 0 && sent == askTries {
				return last
			}
		case <-hedge:
			ask()
			sent++
			pending++
		case <-ctx.Done():
			if last.err == nil {
				last.err = &ServerError{Kind: ErrUnreachable, Message: "no answer from the server's API: " + ctx.Err().Error()}
			}
			return last
		}
	}
}
