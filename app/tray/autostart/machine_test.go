package autostart

import (
	"errors"
	"slices"
	"testing"
)

type fakePlaces struct {
	sys, mine, out bool
	failOptOut     bool
}

func (f *fakePlaces) machineWide() (bool, error) { return f.sys, nil }
func (f *fakePlaces) personal() (bool, error)    { return f.mine, nil }
func (f *fakePlaces) writePersonal() error       { f.mine = true; return nil }
func (f *fakePlaces) removePersonal() error      { f.mine = false; return nil }
func (f *fakePlaces) optedOut() (bool, error)    { return f.out, nil }
func (f *fakePlaces) setOptOut(out bool) error {
	if f.failOptOut {
		return errors.New("read-only")
	}
	f.out = out
	return nil
}

func TestMachineWideSwitch(t *testing.T) {
	// Installed by a package: on by default, off is a personal opt-out, on
	// again removes it; a personal entry never doubles the machine's.
	f := &fakePlaces{sys: true, mine: true}
	if on, _ := enabledIn(f); !on {
		t.Fatal("a machine-wide entry starts the tray")
	}
	if err := enableIn(f); err != nil || f.mine || f.out {
		t.Fatalf("enable with a machine-wide entry: %v %+v", err, f)
	}
	if err := disableIn(f); err != nil || !f.out || f.mine {
		t.Fatalf("disable: %v %+v", err, f)
	}
	if on, _ := enabledIn(f); on {
		t.Fatal("opted out, still shown as on")
	}
	if err := enableIn(f); err != nil || f.out {
		t.Fatalf("enable again: %v %+v", err, f)
	}
	f.failOptOut = true
	if err := disableIn(f); err == nil {
		t.Error("an opt-out that could not be saved must be reported")
	}

	// Without an installer: a personal entry, as before.
	f = &fakePlaces{}
	if on, _ := enabledIn(f); on {
		t.Fatal("nothing registered, shown as on")
	}
	if err := enableIn(f); err != nil || !f.mine || f.out {
		t.Fatalf("enable: %v %+v", err, f)
	}
	if err := disableIn(f); err != nil || f.mine || f.out {
		t.Fatalf("disable: %v %+v", err, f)
	}
	if !slices.Equal(SystemArgs, []string{"tray", AtLoginFlag}) || len(Args) != 1 {
		t.Errorf("SystemArgs %v, Args %v", SystemArgs, Args)
	}
}
