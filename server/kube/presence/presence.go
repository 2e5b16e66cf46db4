// Package presence is how ghostwire-server replicas know about each other: each
// publishes a Replica record (public WireGuard key, endpoint, readiness) and
// renews it every third of its lease while it lives, and watches everyone
// else's. A replica counts as live while its record keeps changing: liveness is
// judged by when this replica saw the last renewal, on its own monotonic
// clock, never by comparing timestamps written by another machine, so a
// replica whose clock is off is neither taken for dead nor kept alive.
//
// Clients get the live, ready replicas with every registration and add each
// as a WireGuard peer; the peer store counts the live ones when it decides
// that a peer is idle everywhere.
package presence

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/cache"

	"github.com/ghostwire/ghostwire/server/kube/records"
	"github.com/ghostwire/ghostwire/server/wgkey"
)

// DefaultLease is how long a replica stays live without a renewal seen.
const DefaultLease = 15 * time.Second

// Options configure Start.
type Options struct {
	Client *records.Client
	// Name is this replica's name (its pod's name).
	Name      string
	PublicKey wgtypes.Key
	// Endpoint is the replica's public WireGuard endpoint as known now.
	Endpoint func() (string, error)
	// Ready says whether the replica serves (and why not).
	Ready func() error
	// Peers is how many peers the device holds (shown in the record).
	Peers func() int
	Lease time.Duration
	// Logger; nil means slog.Default().
	Logger *slog.Logger
	// Now is the monotonic clock liveness is judged by (nil: time.Now).
	Now func() time.Time
}

// Replica is one live replica as clients see it.
type Replica struct {
	Name      string
	PublicKey wgtypes.Key
	Endpoint  string
	Ready     bool
}

// selfState is this replica's readiness and endpoint as last looked at:
// once per turn of run, since Ready is the whole readiness check (device,
// verifier, forwarding, store) and clients poll Live with every answer.
type selfState struct {
	ready    error
	endpoint string
	epErr    error
}

// key sums up what the record says about this replica, to notice changes.
func (s selfState) key() string { return fmt.Sprint(s.ready == nil, s.endpoint) }

type seen struct {
	rec   *records.Replica
	key   wgtypes.Key
	valid bool
	at    time.Time // local monotonic time of the last change seen
}

// Presence publishes this replica and tracks the others.
type Presence struct {
	o   Options
	log *slog.Logger
	inf cache.SharedIndexInformer

	mu     sync.Mutex
	others map[string]*seen
	mine   *records.Replica // the record as last written
	self   selfState
	stop   context.CancelFunc
	done   chan struct{}
}

// Start announces the replica (retrying until the API answers) and follows
// the others until ctx ends. Close deletes the record at shutdown.
func Start(ctx context.Context, o Options) (*Presence, error) {
	if o.Client == nil || o.Name == "" {
		return nil, errors.New("presence: a client and the replica's name are required")
	}
	if o.Lease <= 0 {
		o.Lease = DefaultLease
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Ready == nil {
		o.Ready = func() error { return nil }
	}
	if o.Peers == nil {
		o.Peers = func() int { return 0 }
	}
	ctx, stop := context.WithCancel(ctx)
	p := &Presence{o: o, log: o.Logger.With("replica", o.Name), others: map[string]*seen{}, stop: stop, done: make(chan struct{})}
	p.inf = o.Client.ReplicaInformer()
	_, err := p.inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { p.observe(obj) },
		UpdateFunc: func(_, obj any) { p.observe(obj) },
		DeleteFunc: func(obj any) {
			if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				obj = t.Obj
			}
			if r, ok := obj.(*records.Replica); ok {
				p.mu.Lock()
				delete(p.others, r.Name)
				p.mu.Unlock()
			}
		},
	})
	if err != nil {
		stop()
		return nil, err
	}
	p.self = p.look()
	go p.inf.RunWithContext(ctx)
	go p.run(ctx)
	return p, nil
}

func (p *Presence) observe(obj any) {
	r, ok := obj.(*records.Replica)
	if !ok || r.Name == p.o.Name {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if old := p.others[r.Name]; old != nil && old.rec.ResourceVersion == r.ResourceVersion {
		// A relist after a broken watch repeats what was seen: no renewal.
		return
	}
	k, err := wgkey.Parse(r.Spec.PublicKey)
	s := &seen{rec: r, key: k, valid: err == nil, at: p.o.Now()}
	if !s.valid {
		p.log.Warn("ignoring a Replica record with an unusable public key (edited by hand?)", "record", r.Name)
	}
	p.others[r.Name] = s
}

func (p *Presence) lease(r *records.Replica) time.Duration {
	if r.Spec.LeaseSeconds > 0 {
		return time.Duration(r.Spec.LeaseSeconds) * time.Second
	}
	return p.o.Lease
}

// Live returns the live replicas, this one first, then by name. With
// readyOnly, only those that serve and know their endpoint: what clients get.
// This replica's readiness is as run last looked at it (at most half a
// second, or a third of the lease, ago).
func (p *Presence) Live(readyOnly bool) []Replica {
	now := p.o.Now()
	p.mu.Lock()
	st := p.self
	var rest []Replica
	for name, s := range p.others {
		if !p.liveLocked(s, now) {
			continue
		}
		r := Replica{Name: name, PublicKey: s.key, Endpoint: s.rec.Spec.Endpoint, Ready: s.rec.Status.Ready && s.rec.Spec.Endpoint != ""}
		if r.Ready || !readyOnly {
			rest = append(rest, r)
		}
	}
	p.mu.Unlock()
	self := Replica{Name: p.o.Name, PublicKey: p.o.PublicKey, Ready: st.ready == nil && st.epErr == nil}
	if st.epErr == nil {
		self.Endpoint = st.endpoint
	}
	var out []Replica
	if self.Ready || !readyOnly {
		out = append(out, self)
	}
	slices.SortFunc(rest, func(a, b Replica) int { return strings.Compare(a.Name, b.Name) })
	return append(out, rest...)
}

// LiveNames is the set of live replicas' names, this one included.
func (p *Presence) LiveNames() map[string]bool {
	now := p.o.Now()
	out := map[string]bool{p.o.Name: true}
	p.mu.Lock()
	defer p.mu.Unlock()
	for name, s := range p.others {
		if p.liveLocked(s, now) {
			out[name] = true
		}
	}
	return out
}

// liveLocked says whether the replica seen as s counts as live at now.
func (p *Presence) liveLocked(s *seen, now time.Time) bool {
	return s.valid && now.Sub(s.at) < p.lease(s.rec)
}

// look asks this replica's readiness and endpoint.
func (p *Presence) look() selfState {
	ep, err := p.o.Endpoint()
	return selfState{ready: p.o.Ready(), endpoint: ep, epErr: err}
}

// run renews the record every third of the lease, and at once when this
// replica's readiness or endpoint changes (so clients hear of a replica
// within half a second of it being ready); it also clears away the records
// of replicas long gone (killed without a chance to delete theirs).
func (p *Presence) run(ctx context.Context) {
	defer close(p.done)
	every := p.o.Lease / 3
	logged := false
	var last time.Time
	var wrote string
	for {
		st := p.look()
		p.mu.Lock()
		p.self = st
		p.mu.Unlock()
		state := st.key()
		if now := p.o.Now(); now.Sub(last) >= every || state != wrote {
			err := p.renew(ctx, st)
			switch {
			case err != nil && ctx.Err() == nil && !logged:
				p.log.Warn("cannot renew this replica's record in the Kubernetes API; retrying (clients may stop being told about it)", "error", err.Error())
				logged = true
			case err == nil && logged:
				p.log.Info("this replica's record is renewed again")
				logged = false
			}
			if err == nil {
				last, wrote = now, state
			}
			p.collect(ctx)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(min(every, 500*time.Millisecond)):
		}
	}
}

func (p *Presence) desired(st selfState) *records.Replica {
	ep := st.endpoint
	r := &records.Replica{
		ObjectMeta: metav1.ObjectMeta{Name: p.o.Name, Labels: map[string]string{"app.kubernetes.io/part-of": "ghostwire"}},
		Spec:       records.ReplicaSpec{PublicKey: p.o.PublicKey.String(), Endpoint: ep, LeaseSeconds: int32(p.o.Lease / time.Second)},
	}
	if err := st.ready; err != nil {
		r.Status.Reason = err.Error()
		if len(r.Status.Reason) > 1000 {
			r.Status.Reason = r.Status.Reason[:1000]
		}
	} else if ep == "" {
		r.Status.Reason = "the WireGuard endpoint is not known yet"
	} else {
		r.Status.Ready = true
	}
	r.Status.ClockOffsetMillis = p.o.Client.Clock().Offset().Milliseconds()
	r.Status.Peers = p.o.Peers()
	r.Status.RenewTime = metav1.NewMicroTime(time.Now())
	return r
}

// renew writes the record: created when missing (this replica's first
// start, or a record someone deleted), updated otherwise. Every renewal
// changes renewTime, which is what others see as "alive".
func (p *Presence) renew(ctx context.Context, st selfState) error {
	want := p.desired(st)
	p.mu.Lock()
	mine := p.mine
	p.mu.Unlock()
	var got *records.Replica
	var err error
	if mine == nil {
		got, err = p.o.Client.CreateReplica(ctx, want)
		if apierrors.IsAlreadyExists(err) {
			// A record of an earlier run of this replica (same pod name,
			// killed without cleanup): take it over.
			var cur *records.Replica
			if cur, err = p.o.Client.GetReplica(ctx, p.o.Name); err == nil {
				want.ResourceVersion = cur.ResourceVersion
				got, err = p.o.Client.UpdateReplica(ctx, want)
			}
		}
	} else {
		want.ResourceVersion = mine.ResourceVersion
		got, err = p.o.Client.UpdateReplica(ctx, want)
		if apierrors.IsConflict(err) {
			if cur, gerr := p.o.Client.GetReplica(ctx, p.o.Name); gerr == nil && cur.Spec.PublicKey != want.Spec.PublicKey {
				// Two processes renewing one name take turns: clients and the
				// idle votes see one of them at a time.
				p.log.Error("another replica announces itself under this replica's name: give every replica its own --replica-name (a StatefulSet's pod names are)",
					"other_key", cur.Spec.PublicKey)
			}
		}
		if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
			p.mu.Lock()
			p.mine = nil
			p.mu.Unlock()
			return p.renew(ctx, st)
		}
	}
	if err != nil {
		return err
	}
	p.mu.Lock()
	p.mine = got
	p.mu.Unlock()
	return nil
}

// collect deletes the record of a replica not renewed for four leases:
// killed without deleting it. Any replica may; the precondition makes sure
// a record renewed meanwhile stays.
func (p *Presence) collect(ctx context.Context) {
	now := p.o.Now()
	p.mu.Lock()
	var gone []*records.Replica
	for _, s := range p.others {
		if now.Sub(s.at) > 4*p.lease(s.rec) {
			gone = append(gone, s.rec)
		}
	}
	p.mu.Unlock()
	for _, r := range gone {
		err := p.o.Client.DeleteReplica(ctx, r.Name, r.UID, r.ResourceVersion)
		if err == nil {
			p.log.Info("removed the record of a replica gone without a word", "gone", r.Name)
		} else if !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
			p.log.Debug("could not remove a stale replica record", "gone", r.Name, "error", err.Error())
		}
	}
}

// Close deletes this replica's record, so that the others and clients stop
// counting on it at once (a graceful shutdown, a rolling restart).
func (p *Presence) Close(ctx context.Context) error {
	p.stop()
	<-p.done
	p.mu.Lock()
	mine := p.mine
	p.mu.Unlock()
	if mine == nil {
		return nil
	}
	err := p.o.Client.DeleteReplica(ctx, p.o.Name, mine.UID, "")
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("removing this replica's record: %w", err)
	}
	return nil
}
