package records

import (
	"net/http"
	"sync"
	"time"
)

// Clock estimates the API server's clock from the Date header of every answer
// the client receives, so that a replica whose own clock is off still gives
// peers the right lifetime and expires them on time: peer lifetimes are
// written and judged on the API server's clock, which all replicas share.
//
// Date has a resolution of one second. An answer received at local time r to
// a request sent at s was stamped at some instant the local clock saw in
// [s, r], with a value in [Date, Date+1s); so the offset (server − local)
// lies in [Date − r, Date + 1s − s]. Intersecting these bounds over the
// recent answers narrows the estimate to about the round trip, like NTP's
// filter. A sample that contradicts the others (a clock was stepped) starts
// the estimate afresh.
type Clock struct {
	now func() time.Time

	mu     sync.Mutex
	lo, hi time.Duration
	known  bool
	at     time.Time // local time of the last sample
}

// clockWindow is how long bounds are kept: long enough to narrow the estimate,
// short enough to follow a clock that drifts.
const clockWindow = 10 * time.Minute

// NewClock returns a clock that knows no offset yet (0 until the first answer).
// now may be nil (time.Now).
func NewClock(now func() time.Time) *Clock {
	if now == nil {
		now = time.Now
	}
	return &Clock{now: now}
}

// Observe records one answer: sent and received are local times around the
// request, date is its Date header.
func (c *Clock) Observe(sent, received, date time.Time) {
	if date.IsZero() || received.Before(sent) {
		return
	}
	lo := date.Sub(received)
	hi := date.Add(time.Second).Sub(sent)
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case !c.known || received.Sub(c.at) > clockWindow || lo > c.hi || hi < c.lo:
		c.lo, c.hi = lo, hi
	default:
		c.lo, c.hi = max(c.lo, lo), min(c.hi, hi)
	}
	c.known, c.at = true, received
}

// Offset is the estimated server − local difference (0 while unknown).
func (c *Clock) Offset() time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.known {
		return 0
	}
	return (c.lo + c.hi) / 2
}

// Now is the API server's current time as estimated here.
func (c *Clock) Now() time.Time { return c.now().Add(c.Offset()) }

// Wrap returns a RoundTripper that feeds every answer's Date header to c.
func (c *Clock) Wrap(rt http.RoundTripper) http.RoundTripper {
	return clockTransport{rt: rt, c: c}
}

type clockTransport struct {
	rt http.RoundTripper
	c  *Clock
}

func (t clockTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	sent := t.c.now()
	resp, err := t.rt.RoundTrip(req)
	if err == nil {
		// A watch answers its headers at once and streams for minutes: only
		// the headers' arrival matters, which is now.
		if d, perr := http.ParseTime(resp.Header.Get("Date")); perr == nil {
			t.c.Observe(sent, t.c.now(), d)
		}
	}
	return resp, err
}
