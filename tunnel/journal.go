package tunnel

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// Journal entry kinds: one per kind of system change. Each entry holds what
// is needed to undo the change and nothing secret.
const (
	kindLink       = "link"        // a TUN interface we created
	kindSocket     = "uapi-socket" // the UAPI socket file for `wg show`
	kindAddr       = "addr"        // an address on our interface
	kindRoute      = "route"       // a route through our interface
	kindHostRoute  = "host-route"  // the pinned route to the endpoint (routing loop)
	kindResolved   = "resolved"    // per-link DNS set in systemd-resolved
	kindResolvConf = "resolvconf"  // resolv.conf rewritten; Original holds the backup
)

type entry struct {
	Kind    string       `json:"kind"`
	Link    string       `json:"link,omitempty"`
	Index   int          `json:"index,omitempty"`
	Prefix  netip.Prefix `json:"prefix,omitzero"`
	Gateway netip.Addr   `json:"gateway,omitzero"`
	Path    string       `json:"path,omitempty"`
	Bus     string       `json:"bus,omitempty"`
	// Original is the backup of a file we rewrote, Written what we wrote.
	Original []byte `json:"original,omitempty"`
	Written  []byte `json:"written,omitempty"`
	Created  bool   `json:"created,omitempty"` // the file did not exist before
}

func (e entry) String() string {
	switch e.Kind {
	case kindLink:
		return "interface " + e.Link
	case kindSocket:
		return "UAPI socket " + e.Path
	case kindAddr:
		return fmt.Sprintf("address %s on %s", e.Prefix, e.Link)
	case kindRoute:
		return fmt.Sprintf("route %s via %s", e.Prefix, e.Link)
	case kindHostRoute:
		if e.Gateway.IsValid() {
			return fmt.Sprintf("route %s via %s dev %s", e.Prefix, e.Gateway, e.Link)
		}
		return fmt.Sprintf("route %s dev %s", e.Prefix, e.Link)
	case kindResolved:
		return fmt.Sprintf("systemd-resolved DNS on %s", e.Link)
	case kindResolvConf:
		return "DNS in " + e.Path
	}
	if s, ok := osEntryString(e); ok {
		return s
	}
	return e.Kind
}

// journal is the on-disk list of changes one tunnel made. Every change is
// recorded (and fsynced) before it is made, so a crash at any point leaves a
// journal that covers it; undo is idempotent, so a recorded change that never
// happened costs nothing.
type journal struct {
	mu      sync.Mutex // other tunnels sharing resolv.conf update our entry
	path    string
	Iface   string    `json:"interface"`
	PID     int       `json:"pid"`
	Started time.Time `json:"started"`
	Entries []entry   `json:"entries"`
}

const journalSuffix = ".journal.json"

func journalPath(dir, iface string) string { return filepath.Join(dir, iface+journalSuffix) }

// newJournal creates the journal of iface in dir. It fails if one exists.
func newJournal(dir, iface string) (*journal, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("cannot create the tunnel journal directory %s: %w", dir, err)
	}
	j := &journal{path: journalPath(dir, iface), Iface: iface, PID: os.Getpid(), Started: time.Now().UTC()}
	if _, err := os.Lstat(j.path); err == nil {
		return nil, fmt.Errorf("a journal of an earlier tunnel on %s exists in %s: recover it first", iface, dir)
	}
	return j, j.save()
}

func loadJournal(path string) (*journal, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	j := &journal{}
	if err := json.Unmarshal(b, j); err != nil {
		return nil, fmt.Errorf("tunnel journal %s is damaged: %w", path, err)
	}
	j.path = path
	return j, nil
}

// record adds e and makes it durable. Call it before making the change.
func (j *journal) record(e entry) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.Entries = append(j.Entries, e)
	if err := j.save(); err != nil {
		j.Entries = j.Entries[:len(j.Entries)-1]
		return err
	}
	return nil
}

// forget drops the entries matching f (after their change was undone).
func (j *journal) forget(f func(entry) bool) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	kept := j.Entries[:0:0]
	for _, e := range j.Entries {
		if !f(e) {
			kept = append(kept, e)
		}
	}
	j.Entries = kept
	return j.save()
}

// setWritten records what resolv.conf at path holds now.
func (j *journal) setWritten(path string, b []byte) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	for i := range j.Entries {
		if j.Entries[i].Kind == kindResolvConf && j.Entries[i].Path == path {
			j.Entries[i].Written = b
		}
	}
	return j.save()
}

func (j *journal) save() error {
	b, err := json.MarshalIndent(j, "", " ")
	if err != nil {
		return err
	}
	tmp := j.path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("cannot write the tunnel journal: %w", err)
	}
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, j.path)
	}
	if err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("cannot write the tunnel journal: %w", err)
	}
	if d, err := os.Open(filepath.Dir(j.path)); err == nil {
		_ = d.Sync()
		_ = d.Close()
	}
	return nil
}

func (j *journal) remove() error {
	if err := os.Remove(j.path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// undoer undoes one journal entry. Undo must succeed when the change is
// already gone.
type undoer func(e entry) error

// rollback undoes the entries newest first, keeps those that failed in the
// journal (removing it when none did) and returns the failures.
func (j *journal) rollback(undo undoer, log *slog.Logger) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	var errs []error
	var failed []entry
	for i := len(j.Entries) - 1; i >= 0; i-- {
		e := j.Entries[i]
		if err := undo(e); err != nil {
			log.Warn("could not undo a tunnel change", "change", e.String(), "err", err)
			errs = append(errs, fmt.Errorf("undo %s: %w", e, err))
			failed = append([]entry{e}, failed...)
			continue
		}
		log.Debug("undid tunnel change", "change", e.String())
	}
	if len(failed) == 0 {
		return j.remove()
	}
	j.Entries = failed
	if err := j.save(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// Recover undoes what tunnels that did not shut down cleanly (crash, kill -9,
// power loss) left behind, as recorded in their journals in dir (""
// means DefaultJournalDir). Call it once when the daemon starts, before Up.
// What cannot be undone stays in its journal and is reported; the next Recover
// tries again.
func Recover(dir string, log *slog.Logger) error {
	if dir == "" {
		dir = DefaultJournalDir
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	names, err := os.ReadDir(dir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("cannot read the tunnel journal directory %s: %w", dir, err)
	}
	var errs []error
	for _, n := range names {
		if !strings.HasSuffix(n.Name(), journalSuffix) {
			continue
		}
		iface := strings.TrimSuffix(n.Name(), journalSuffix)
		if liveInterface(iface) {
			continue // a tunnel of this process: not a leftover
		}
		if err := recoverJournal(filepath.Join(dir, n.Name()), log); err != nil {
			errs = append(errs, err)
		}
	}
	if err := osRecover(log); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

func recoverJournal(path string, log *slog.Logger) error {
	j, err := loadJournal(path)
	if err != nil {
		return err
	}
	log.Info("undoing changes of a tunnel that did not shut down cleanly",
		"interface", j.Iface, "pid", j.PID, "started", j.Started, "changes", len(j.Entries))
	ops, opsErr := newNetOps()
	return j.rollback(func(e entry) error { return undoEntry(e, ops, opsErr, nil, log) }, log)
}

// undoEntry undoes e. live is the running device (nil during recovery).
func undoEntry(e entry, ops netOps, opsErr error, live func() error, log *slog.Logger) error {
	switch e.Kind {
	case kindResolved:
		return revertResolved(e)
	case kindResolvConf:
		return restoreResolvConf(e, log)
	case kindSocket:
		if err := os.Remove(e.Path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		return nil
	}
	if handled, err := undoOSEntry(e, log); handled {
		return err // the OS's own kinds (its DNS mechanism)
	}
	if e.Kind == kindLink && live != nil {
		if err := live(); err != nil {
			return err
		}
	}
	if opsErr != nil {
		return opsErr
	}
	switch e.Kind {
	case kindLink:
		return ops.delLink(e.Link)
	case kindAddr:
		return ops.delAddr(e.Link, e.Prefix)
	case kindRoute:
		return ops.delRoute(e.Link, e.Prefix)
	case kindHostRoute:
		return ops.delHostRoute(e.Prefix, e.Gateway, e.Link)
	}
	return fmt.Errorf("unknown journal entry %q (journal written by a newer ghostwire?)", e.Kind)
}
