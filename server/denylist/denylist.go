// Package denylist is the operator's "remove this person right now" switch:
// a file of users who may not use the VPN whatever their token says,
// reloaded when it changes (a ConfigMap mounted into the pod). An access
// token stays valid for an hour or more after Entra stops issuing new ones;
// the deny list takes effect at the next reload.
//
// One entry a line: a user's full subject as the server logs it
// ("<issuer>#<tid>/<oid>" for Entra, "<issuer>#<sub>" otherwise), the part
// after '#', or, for Entra only, the object ID (oid) alone. Entries match
// by the provider's own identity rule (see Match): Entra's ids are GUIDs,
// compared without regard to case; any other provider's sub is compared
// exactly, and an oid claim means nothing there. '#' at the start of a
// line, or after a space, starts a comment (subjects contain '#'
// themselves, never after a space).
package denylist

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"maps"
	"os"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/ghostwire/ghostwire/server/filewatch"
)

// MaxBytes bounds the file (a ConfigMap holds at most 1 MiB).
const MaxBytes = 1 << 20

// Parse reads a deny list; the error names the first bad line.
func Parse(r io.Reader) ([]string, error) {
	b, err := io.ReadAll(io.LimitReader(r, MaxBytes+1))
	if err != nil {
		return nil, err
	}
	if len(b) > MaxBytes {
		return nil, fmt.Errorf("the deny list is larger than %d bytes", MaxBytes)
	}
	var out []string
	for i, line := range strings.Split(string(b), "\n") {
		if !utf8.ValidString(line) {
			return nil, fmt.Errorf("line %d is not valid UTF-8", i+1)
		}
		line = strings.TrimSpace(line)
		if strings.HasPrefix(line, "#") {
			continue
		}
		if j := strings.IndexAny(line, " \t"); j >= 0 {
			rest := strings.TrimSpace(line[j:])
			if !strings.HasPrefix(rest, "#") {
				return nil, fmt.Errorf("line %d: one user a line (subject, sub or oid), and a comment only after '#'", i+1)
			}
			line = line[:j]
		}
		if line == "" {
			continue
		}
		if strings.IndexFunc(line, func(r rune) bool { return !unicode.IsPrint(r) }) >= 0 {
			return nil, fmt.Errorf("line %d: the entry holds unprintable characters", i+1)
		}
		out = append(out, line)
	}
	return out, nil
}

// Keys are the entries that name a user, in the form they are compared in:
// an Entra user (oid set: the server identified them by tid + oid) is named
// by the subject, "<tid>/<oid>" or the oid, lower case (GUIDs); a user of
// any other provider by the subject or the sub, exactly as they are (OpenID
// sub values are case-sensitive).
func Keys(subject, oid string) []string {
	k := []string{subject}
	if _, local, ok := strings.Cut(subject, "#"); ok && local != "" {
		k = append(k, local)
	}
	if oid == "" {
		return k
	}
	k = append(k, oid)
	for i := range k {
		k[i] = strings.ToLower(k[i])
	}
	return k
}

// Match says whether entry (a deny-list line, or an admin's ?user=) names
// the user with subject and Entra oid, by the rule of Keys.
func Match(entry, subject, oid string) bool {
	if oid != "" {
		entry = strings.ToLower(entry)
	}
	return slices.Contains(Keys(subject, oid), entry)
}

// List is a deny list loaded from a file. A nil *List denies nobody.
type List struct {
	path string
	log  *slog.Logger

	mu      sync.RWMutex
	entries map[string]bool   // as written: for other providers' users
	folded  map[string]string // lower case → as written: for Entra users
	missing bool              // the file was absent at the last reload
}

// New loads path once. A missing file is an empty list (an optional
// ConfigMap that does not exist); an unreadable or malformed one is an error.
func New(path string, log *slog.Logger) (*List, error) {
	if log == nil {
		log = slog.Default()
	}
	l := &List{path: path, log: log, entries: map[string]bool{}, folded: map[string]string{}, missing: true}
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		log.Info("no deny list file yet: nobody is denied until it appears", "file", path)
	}
	if _, err := l.Reload(); err != nil {
		return nil, err
	}
	return l, nil
}

// Path is the file the list is read from.
func (l *List) Path() string { return l.path }

// Reload reads the file again; changed says whether the entries differ. On
// error the current entries stay: a broken edit never lets anyone back in.
func (l *List) Reload() (changed bool, err error) {
	f, err := os.Open(l.path)
	var entries []string
	missing := errors.Is(err, fs.ErrNotExist)
	switch {
	case missing:
		l.mu.RLock()
		was := l.missing
		l.mu.RUnlock()
		if !was {
			l.log.Warn("the deny list file is gone: nobody is denied now", "file", l.path)
		}
	case err != nil:
		return false, fmt.Errorf("reading the deny list %s: %w", l.path, err)
	default:
		entries, err = Parse(f)
		f.Close()
		if err != nil {
			return false, fmt.Errorf("deny list %s: %w", l.path, err)
		}
	}
	m, folded := make(map[string]bool, len(entries)), make(map[string]string, len(entries))
	for _, e := range entries {
		m[e] = true
		folded[strings.ToLower(e)] = e
	}
	l.mu.Lock()
	changed = !maps.Equal(m, l.entries)
	l.entries, l.folded, l.missing = m, folded, missing
	l.mu.Unlock()
	return changed, nil
}

// Denied says whether the user is on the list, and the entry that matched.
func (l *List) Denied(subject, oid string) (entry string, denied bool) {
	if l == nil {
		return "", false
	}
	l.mu.RLock()
	defer l.mu.RUnlock()
	for _, k := range Keys(subject, oid) {
		if oid != "" {
			if e, ok := l.folded[k]; ok {
				return e, true
			}
		} else if l.entries[k] {
			return k, true
		}
	}
	return "", false
}

// Len is the number of entries.
func (l *List) Len() int {
	if l == nil {
		return 0
	}
	l.mu.RLock()
	defer l.mu.RUnlock()
	return len(l.entries)
}

// Watch reloads the list when the file changes (and every poll interval),
// and calls changed after every reload that changed the entries, so the
// caller can remove the newly denied users' peers at once. It returns when
// ctx ends.
func (l *List) Watch(ctx context.Context, poll time.Duration, changed func()) {
	filewatch.Watch(ctx, []string{l.path}, poll, l.log, func(trigger string) {
		ch, err := l.Reload()
		if err != nil {
			l.log.Error("keeping the current deny list: the file is not usable; fix it", "error", err.Error(), "trigger", trigger)
			return
		}
		if ch {
			l.log.Info("deny list reloaded", "file", l.path, "entries", l.Len(), "trigger", trigger)
			if changed != nil {
				changed()
			}
		}
	})
}
