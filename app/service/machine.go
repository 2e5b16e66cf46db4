package service

import (
	"context"
	"log/slog"
	"time"
)

// The Windows service body as a pure state machine: what it tells the
// service manager while the daemon starts, runs and stops, and what it does
// with each request. service_windows.go maps x/sys/windows/svc onto it;
// here it is tested on every OS.

// request is a control request from the service manager.
type request int

const (
	reqStop        request = iota + 1 // sc stop, or the service being removed
	reqPreShutdown                    // the machine shuts down (sent first, with more time than shutdown)
	reqShutdown
	reqInterrogate
	reqResume  // a power event: the machine resumed
	reqSuspend // a power event: the machine goes to sleep
)

// state is what the service reports.
type state int

const (
	stateStartPending state = iota + 1
	stateRunning
	stateStopPending
)

// status is one report to the service manager. Checkpoint grows while a
// pending state makes progress, WaitHint says how long until the next.
type status struct {
	State      state
	Checkpoint uint32
	WaitHint   time.Duration
}

// stopHint is how long the manager is told to wait between checkpoints
// while the tunnels come down and the peers are removed from the servers.
const stopHint = 10 * time.Second

// machine runs the daemon body under a service manager.
type machine struct {
	body   Runner
	report func(status)
	log    *slog.Logger
	tick   time.Duration // checkpoints while stopping
}

// run reports start, runs the body, and stops it when asked. It returns the
// body's error and the exit code to give the manager: non-zero when the
// daemon ended by itself with an error, so that the recovery actions (restart)
// apply.
func (m *machine) run(reqs <-chan request) (uint32, error) {
	m.report(status{State: stateStartPending, WaitHint: stopHint})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- m.body(ctx) }()
	m.report(status{State: stateRunning})
	for {
		select {
		case err := <-done:
			if err != nil {
				m.log.Error("the ghostwire daemon stopped on an error; Windows restarts it", "err", err)
				return 1, err
			}
			return 0, nil
		case r := <-reqs:
			switch r {
			case reqInterrogate:
				m.report(status{State: stateRunning})
			case reqResume:
				// Only logged: the daemon hears the wake itself, through
				// osevents (which also covers Modern Standby).
				m.log.Info("the service manager reports the machine resumed")
			case reqSuspend:
				m.log.Info("the service manager reports the machine goes to sleep")
			case reqStop, reqPreShutdown, reqShutdown:
				m.log.Info("stopping on the service manager's request", "request", r.String())
				cancel()
				return 0, m.stopping(done)
			}
		}
	}
}

// stopping reports progress until the body returns.
func (m *machine) stopping(done <-chan error) error {
	var cp uint32
	t := time.NewTicker(m.tick)
	defer t.Stop()
	for {
		cp++
		m.report(status{State: stateStopPending, Checkpoint: cp, WaitHint: stopHint})
		select {
		case err := <-done:
			return err
		case <-t.C:
		}
	}
}

func (r request) String() string {
	switch r {
	case reqStop:
		return "stop"
	case reqPreShutdown:
		return "preshutdown"
	case reqShutdown:
		return "shutdown"
	case reqInterrogate:
		return "interrogate"
	case reqResume:
		return "resume"
	case reqSuspend:
		return "suspend"
	}
	return "unknown"
}
