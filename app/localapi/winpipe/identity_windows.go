package winpipe

import (
	"errors"
	"fmt"
	"runtime"

	"golang.org/x/sys/windows"
)

// Identity is who is on the client end of a pipe, read from the token of
// the thread that opened it (impersonation), not from a process ID that a
// handle passed to another process would make wrong.
type Identity struct {
	SID    string   // the user's SID
	User   string   // DOMAIN\name, when it resolves
	Groups []string // SIDs of the enabled groups (deny-only groups are left out)
	PID    int      // the client's process, for logs
}

var procImpersonateNamedPipeClient = windows.NewLazySystemDLL("advapi32.dll").NewProc("ImpersonateNamedPipeClient")

// Identify reads the client's identity. Windows lets a server impersonate
// its client only after it has read from the pipe, so call it once the
// client has sent something (the daemon does at its first request).
func (c *Conn) Identify() (Identity, error) {
	if !c.server {
		return Identity{}, errors.New("only the server end of a pipe can identify its client")
	}
	var id Identity
	var pid uint32
	if windows.GetNamedPipeClientProcessId(c.h, &pid) == nil {
		id.PID = int(pid)
	}
	tok, err := c.clientToken()
	if err != nil {
		return id, err
	}
	defer tok.Close()
	u, err := tok.GetTokenUser()
	if err != nil {
		return id, fmt.Errorf("cannot read the caller's user: %w", err)
	}
	id.SID = u.User.Sid.String()
	if acct, dom, _, err := u.User.Sid.LookupAccount(""); err == nil {
		id.User = dom + `\` + acct
	}
	gs, err := tok.GetTokenGroups()
	if err != nil {
		return id, fmt.Errorf("cannot read the caller's groups: %w", err)
	}
	for _, g := range gs.AllGroups() {
		if g.Attributes&windows.SE_GROUP_ENABLED != 0 && g.Attributes&windows.SE_GROUP_USE_FOR_DENY_ONLY == 0 {
			id.Groups = append(id.Groups, g.Sid.String())
		}
	}
	return id, nil
}

// clientToken impersonates the client on a locked OS thread just long
// enough to open the thread's token. A thread that could not stop
// impersonating is never handed back to Go: its goroutine ends locked, and
// the runtime terminates the thread.
func (c *Conn) clientToken() (windows.Token, error) {
	type result struct {
		tok windows.Token
		err error
	}
	ch := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		if r, _, e := procImpersonateNamedPipeClient.Call(uintptr(c.h)); r == 0 {
			runtime.UnlockOSThread()
			ch <- result{err: fmt.Errorf("cannot identify the caller of %s: %w", c.name, e)}
			return
		}
		var tok windows.Token
		err := windows.OpenThreadToken(windows.CurrentThread(), windows.TOKEN_QUERY, true, &tok)
		if rerr := windows.RevertToSelf(); rerr != nil {
			if err == nil {
				tok.Close()
			}
			ch <- result{err: fmt.Errorf("cannot stop acting as the caller: %w", rerr)}
			return // still locked: the thread dies with this goroutine
		}
		runtime.UnlockOSThread()
		if err != nil {
			err = fmt.Errorf("cannot read the caller's token: %w", err)
		}
		ch <- result{tok, err}
	}()
	r := <-ch
	return r.tok, r.err
}
