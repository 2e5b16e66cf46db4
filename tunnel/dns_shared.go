package tunnel

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/netip"
	"os"
	"slices"
	"strings"
	"sync"
)

var errRewritten = errors.New("another program rewrote the DNS file while the tunnel was up; not overwriting it")

// resolvConfs coordinates the tunnels of this process (one per profile) that
// manage the same resolv.conf: the file holds one rendering for all of them,
// the original is kept once, and one stub forwarder serves every profile's
// domains. Tunnels may then go down in any order and the original still
// comes back at the end, byte for byte.
var resolvConfs = struct {
	sync.Mutex
	files map[string]*managedFile
}{files: map[string]*managedFile{}}

type managedFile struct {
	path     string
	original []byte
	created  bool   // the file did not exist before
	written  []byte // what we wrote last
	users    []*dnsUser
	stub     *stubServer
	stubAddr netip.AddrPort
}

// dnsUser is one tunnel's share of a managed resolv.conf.
type dnsUser struct {
	iface    string
	j        *journal
	stub     bool // stub mode; else resolv.conf-only mode
	servers  []netip.Addr
	search   []string
	domains  []string // search and match domains, for the stub
	stubAddr netip.AddrPort
}

func (f *managedFile) content() []byte {
	var ns []netip.Addr
	var search, names []string
	plain := false
	if f.stub != nil {
		ns = append(ns, f.stubAddr.Addr())
	}
	for _, u := range f.users {
		names = append(names, u.iface)
		search = append(search, u.search...)
		if !u.stub {
			ns = append(ns, u.servers...)
			plain = true
		}
	}
	if plain { // resolv.conf-only mode keeps the system's servers as a fallback
		ns = append(ns, systemNameservers(f.original)...)
	}
	return resolvConfContent(f.original, strings.Join(names, ", "), ns, search)
}

func (f *managedFile) stubRoutes() []stubRoute {
	var rs []stubRoute
	for _, u := range f.users {
		if u.stub {
			rs = append(rs, stubRoute{domains: u.domains, servers: port53(u.servers)})
		}
	}
	return rs
}

// write puts next in place and tells every user's journal.
func (f *managedFile) write(next []byte) error {
	if cur, err := os.ReadFile(f.path); err == nil && f.written != nil && !bytes.Equal(cur, f.written) {
		return fmt.Errorf("%w: %s", errRewritten, f.path)
	}
	if err := os.WriteFile(f.path, next, 0o644); err != nil {
		return fmt.Errorf("cannot write %s: %w", f.path, err)
	}
	f.written = next
	var errs []error
	for _, u := range f.users {
		errs = append(errs, u.j.setWritten(f.path, next))
	}
	return errors.Join(errs...)
}

// joinResolvConf adds u to the resolv.conf at path: journal first, then the
// file. In stub mode it starts the shared forwarder if it is not running.
func joinResolvConf(path string, u *dnsUser, log *slog.Logger) error {
	resolvConfs.Lock()
	defer resolvConfs.Unlock()
	f := resolvConfs.files[path]
	if f == nil {
		orig, err := os.ReadFile(path)
		created := errors.Is(err, fs.ErrNotExist)
		if err != nil && !created {
			return fmt.Errorf("cannot read %s: %w", path, err)
		}
		f = &managedFile{path: path, original: orig, created: created}
	}
	startedStub := false
	if u.stub && f.stub == nil {
		// Names outside the clusters' domains go where they went before,
		// also when resolv.conf named no server (the resolver's defaults).
		upstream := port53(systemNameservers(f.original))
		s, err := startStub(u.stubAddr, upstream, log)
		if err != nil {
			return err
		}
		f.stub, f.stubAddr, startedStub = s, u.stubAddr, true
	} else if u.stub && u.stubAddr != f.stubAddr {
		log.Info("sharing the local DNS forwarder of another tunnel", "listen", f.stubAddr)
	}
	f.users = append(f.users, u)
	next := f.content()
	undo := func() {
		f.users = f.users[:len(f.users)-1]
		if startedStub {
			f.stub.close()
			f.stub = nil
		}
	}
	e := entry{Kind: kindResolvConf, Link: u.iface, Path: path, Original: f.original, Written: next, Created: f.created}
	if err := u.j.record(e); err != nil {
		undo()
		return err
	}
	if f.stub != nil {
		f.stub.setRoutes(f.stubRoutes())
	}
	resolvConfs.files[path] = f
	return f.write(next)
}

// leaveResolvConf removes u: the file is rendered for the tunnels left, or
// restored when u was the last.
func leaveResolvConf(path string, u *dnsUser, log *slog.Logger) error {
	resolvConfs.Lock()
	defer resolvConfs.Unlock()
	f := resolvConfs.files[path]
	if f == nil || !slices.Contains(f.users, u) {
		return nil
	}
	f.users = slices.DeleteFunc(f.users, func(x *dnsUser) bool { return x == u })
	stubUsers := slices.ContainsFunc(f.users, func(x *dnsUser) bool { return x.stub })
	if f.stub != nil && !stubUsers {
		f.stub.close()
		f.stub = nil
	}
	var err error
	if len(f.users) == 0 {
		delete(resolvConfs.files, path)
		err = restoreResolvConf(entry{Path: path, Original: f.original, Written: f.written, Created: f.created}, log)
	} else {
		if f.stub != nil {
			f.stub.setRoutes(f.stubRoutes())
		}
		err = f.write(f.content())
	}
	if err != nil {
		return err
	}
	return u.j.forget(func(e entry) bool { return e.Kind == kindResolvConf && e.Path == path })
}
