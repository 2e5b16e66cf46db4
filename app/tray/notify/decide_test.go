package notify

import (
	"reflect"
	"testing"
	"time"

	"github.com/ghostwire/ghostwire/app/localapi"
)

var t0 = time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)

type step struct {
	at        time.Duration
	state     localapi.State
	prompt    uint64 // SignIn.Seq; 0 = no prompt
	sessEnd   time.Duration
	reachable bool
	want      []string // notification keys
}

func run(t *testing.T, steps []step) []Notification {
	t.Helper()
	d := Decider{HowToStart: "Start it: sudo systemctl start ghostwire"}
	var all []Notification
	for i, s := range steps {
		p := localapi.Profile{Name: "prod", State: s.state, Address: "100.64.0.7/32", Reason: "peer gone"}
		if s.prompt != 0 {
			p.SignIn = &localapi.SignInPrompt{VerificationURI: "https://l/device", UserCode: "ABCD-EFGH", Seq: s.prompt}
		}
		if s.sessEnd != 0 {
			e := t0.Add(s.sessEnd)
			p.SessionExpiresAt = &e
		}
		got := d.Observe(t0.Add(s.at), localapi.Status{Profiles: []localapi.Profile{p}}, !s.notReachable())
		var keys []string
		for _, n := range got {
			keys = append(keys, n.Key)
			if n.Title == "" {
				t.Errorf("step %d: %s has no title", i, n.Key)
			}
		}
		if !reflect.DeepEqual(keys, s.want) {
			t.Fatalf("step %d (%s at %v): got %q, want %q", i, s.state, s.at, keys, s.want)
		}
		all = append(all, got...)
	}
	return all
}

// reachable defaults to true; a step marks the daemon gone with state "".
func (s step) notReachable() bool { return s.state == "" }

func TestConnectLoseRecover(t *testing.T) {
	const sec = time.Second
	got := run(t, []step{
		{at: 0, state: localapi.StateDisconnected},
		{at: 1 * sec, state: localapi.StateSigningIn, prompt: 1, want: []string{"sign-in:prod"}},
		{at: 2 * sec, state: localapi.StateSigningIn, prompt: 1}, // same prompt: silent
		{at: 3 * sec, state: localapi.StateRegistering},          // silent
		{at: 4 * sec, state: localapi.StateConnected, want: []string{"connected:prod"}},
		{at: 5 * sec, state: localapi.StateConnected},     // repeated status: silent
		{at: 10 * sec, state: localapi.StateReconnecting}, // blip starts
		{at: 12 * sec, state: localapi.StateReconnecting}, // within grace
		{at: 13 * sec, state: localapi.StateConnected},    // back within grace: silent both ways
		{at: 20 * sec, state: localapi.StateReconnecting}, // a real outage
		{at: 24 * sec, state: localapi.StateReconnecting}, // 4 s: still silent
		{at: 25 * sec, state: localapi.StateReconnecting, want: []string{"lost:prod"}},
		{at: 30 * sec, state: localapi.StateReconnecting}, // said once
		{at: 62 * sec, state: localapi.StateConnected, want: []string{"restored:prod"}},
		{at: 63 * sec, state: localapi.StateDisconnected}, // the person disconnected: silent
	})
	if got[len(got)-1].Body != "Back after 42s." {
		t.Errorf("restored body %q should say how long it took", got[len(got)-1].Body)
	}
	if got[0].Body == "" || !got[0].Urgent {
		t.Errorf("sign-in notification must carry the code and be urgent: %+v", got[0])
	}
}

func TestSignInNeededAndErrors(t *testing.T) {
	run(t, []step{
		{at: 0, state: localapi.StateConnected},
		{at: time.Second, state: localapi.StateNeedsSignIn, want: []string{"sign-in-needed:prod"}},
		{at: 2 * time.Second, state: localapi.StateNeedsSignIn},
		{at: 3 * time.Second, state: localapi.StateSigningIn, prompt: 5, want: []string{"sign-in:prod"}},
		{at: 4 * time.Second, state: localapi.StateSigningIn, prompt: 6, want: []string{"sign-in:prod"}}, // a new code
		{at: 5 * time.Second, state: localapi.StateError, want: []string{"error:prod"}},
		{at: 6 * time.Second, state: localapi.StateError},
		{at: 7 * time.Second, state: localapi.StateRegistering},
		{at: 8 * time.Second, state: localapi.StateConnected, want: []string{"connected:prod"}},
	})
}

func TestSessionEnding(t *testing.T) {
	const min = time.Minute
	run(t, []step{
		{at: 0, state: localapi.StateConnected, sessEnd: 60 * min},
		{at: 45 * min, state: localapi.StateConnected, sessEnd: 60 * min},
		{at: 50 * min, state: localapi.StateConnected, sessEnd: 60 * min, want: []string{"session-ending:prod"}},
		{at: 55 * min, state: localapi.StateConnected, sessEnd: 60 * min},     // warned once per end
		{at: 56 * min, state: localapi.StateConnected, sessEnd: 8 * 60 * min}, // extended
		{at: 471 * min, state: localapi.StateConnected, sessEnd: 8 * 60 * min, want: []string{"session-ending:prod"}},
	})
}

func TestBaselineIsSilent(t *testing.T) {
	run(t, []step{
		{at: 0, state: localapi.StateReconnecting, prompt: 0, sessEnd: 5 * time.Minute},
		{at: 3 * time.Second, state: localapi.StateReconnecting},
		{at: 6 * time.Second, state: localapi.StateReconnecting, want: []string{"lost:prod"}},
	})
	run(t, []step{
		{at: 0, state: localapi.StateSigningIn, prompt: 9},
		{at: time.Second, state: localapi.StateSigningIn, prompt: 9},
	})
}

func TestDaemonStops(t *testing.T) {
	run(t, []step{
		{at: 0, state: localapi.StateConnected},
		{at: time.Second, state: "", want: []string{"daemon-stopped"}},
		{at: 2 * time.Second, state: ""},
		// The daemon is back and connected again (it restored the tunnel): news.
		{at: 3 * time.Second, state: localapi.StateConnected, want: []string{"connected:prod"}},
	})
	// Not running from the start: nothing to announce.
	run(t, []step{{at: 0, state: ""}, {at: time.Second, state: ""}})
}

func TestProfileAppears(t *testing.T) {
	d := Decider{}
	d.Observe(t0, localapi.Status{}, true)
	p := localapi.Profile{Name: "dev", State: localapi.StateSigningIn,
		SignIn: &localapi.SignInPrompt{VerificationURI: "https://l/device", UserCode: "QQQQ-RRRR", Seq: 1}}
	got := d.Observe(t0.Add(time.Second), localapi.Status{Profiles: []localapi.Profile{p}}, true)
	if len(got) != 1 || got[0].Key != "sign-in:dev" {
		t.Fatalf("a new profile asking to sign in must be announced: %+v", got)
	}
}
