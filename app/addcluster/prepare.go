package addcluster

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"unicode"

	"github.com/ghostwire/ghostwire/app/localapi"
	"github.com/ghostwire/ghostwire/app/serverclient"
	"github.com/ghostwire/ghostwire/server/api"
)

// Origin says where a server address came from.
type Origin int

// Typed: the person typed it in "Add cluster…"; FromLink: a ghostwire:// link
// (someone else chose the server, so the person must confirm it).
const (
	Typed Origin = iota
	FromLink
)

// ConfigFunc reads a server's GET /v1/config.
type ConfigFunc func(ctx context.Context, server string) (api.Config, error)

// FetchConfig reads GET /v1/config of server, trusting the system's roots.
func FetchConfig(ctx context.Context, server string) (api.Config, error) {
	c, err := serverclient.New(server, nil)
	if err != nil {
		return api.Config{}, err
	}
	return c.Config(ctx)
}

// Asker asks the person a yes/no question. Confirm returns false when they
// decline or close the dialog.
type Asker interface {
	Confirm(ctx context.Context, title, text, yes string) (bool, error)
}

// ErrDeclined: the person said no; nothing was added or connected.
var ErrDeclined = errors.New("not connected: you chose not to add this cluster")

// Plan is what Prepare decided.
type Plan struct {
	// Up is the request to send to the daemon: a new profile with its server,
	// or an existing profile by name only (never changing its server).
	Up localapi.UpRequest
	// Existing: the daemon already had a profile for this server.
	Existing bool
	// ServerName is what the server calls itself (cleaned for display).
	ServerName string
}

// Prepare decides how to add server (canonical URL) given the daemon's
// status: it reads the server's /v1/config (so a typo or an unreachable host
// adds nothing, and the person sees the server's name), names the profile,
// and for a link asks the person first. Only a confirmed link returns a Plan.
func Prepare(ctx context.Context, st localapi.Status, server string, origin Origin, config ConfigFunc, ask Asker) (Plan, error) {
	host := server
	if u, err := url.Parse(server); err == nil && u.Host != "" {
		host = u.Host
	}
	name, existing := ProfileName(server, st.Profiles)
	plan := Plan{Existing: existing, Up: localapi.UpRequest{Profile: name}}
	if !existing {
		plan.Up.Server = server
	}
	cfg, err := config(ctx, server)
	switch {
	case err != nil && !existing:
		return Plan{}, fmt.Errorf("could not read the ghostwire server at %s, so nothing was added: %v. Check the address; if your organisation uses its own certificate authority, connect once in a terminal with `ghostwire up %s --ca-file <your CA's .pem>`", host, err, server)
	case err == nil:
		plan.ServerName = CleanName(cfg.ServerName)
	}
	if origin != FromLink {
		return plan, nil
	}
	if ask == nil {
		return Plan{}, errors.New("cannot ask you to confirm this link here, so nothing was added: open it on your desktop (with zenity or kdialog installed), or run `ghostwire up " + server + "` in a terminal")
	}
	calls := ""
	if plan.ServerName != "" {
		calls = ", which calls itself “" + plan.ServerName + "”"
	}
	var title, text, yes string
	if existing {
		title = "Connect to " + name + "?"
		text = "A link asks to connect to the cluster at\n\n    " + host + "\n\n" + strings.TrimPrefix(calls, ", ") +
			"\n\nYou already have it as the profile “" + name + "”. Connect now?"
		yes = "Connect"
	} else {
		title = "Add a cluster?"
		text = "A link asks to add the cluster at\n\n    " + host + "\n\n" + strings.TrimPrefix(calls, ", ") +
			"\n\nContinue only if you expected this link from your admin. You will sign in with your organisation's account next; the new profile will be called “" + name + "”."
		yes = "Add and connect"
	}
	ok, err := ask.Confirm(ctx, title, text, yes)
	if err != nil {
		return Plan{}, fmt.Errorf("could not ask you to confirm, so nothing was added: %w", err)
	}
	if !ok {
		return Plan{}, ErrDeclined
	}
	return plan, nil
}

// CleanName makes a server's self-declared name safe to show in a dialog: no
// control characters, no markup (dialogs may render < > & as rich text), at
// most 64 characters.
func CleanName(s string) string {
	var b strings.Builder
	n := 0
	for _, r := range s {
		if n == 64 {
			b.WriteRune('…')
			break
		}
		switch {
		case unicode.IsControl(r) || r == '\u2028' || r == '\u2029':
			r = ' '
		case r == '<':
			r = '‹'
		case r == '>':
			r = '›'
		case r == '&':
			r = '+'
		case r == '"':
			r = '\''
		}
		b.WriteRune(r)
		n++
	}
	return strings.TrimSpace(b.String())
}
