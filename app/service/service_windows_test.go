package service

import (
	"bytes"
	"fmt"
	"os"
	"slices"
	"testing"
	"time"

	"golang.org/x/sys/windows/registry"
	"golang.org/x/sys/windows/svc/mgr"

	"github.com/ghostwire/ghostwire/internal/wintest"
)

// Registration with the real service manager: under Wine in
// `make test-windows`, and on the hosted Windows runner. The service is
// registered under a test name and never started (Wine cannot start a Go
// service, PACKAGING.md §1.5; the runner's job starts the real one).
func TestWindowsServiceRegistration(t *testing.T) {
	m, err := mgr.Connect()
	if err != nil {
		t.Fatalf("the service manager (run as Administrator): %v", err)
	}
	defer m.Disconnect()
	name := fmt.Sprintf("ghostwire-test-%d", os.Getpid())
	exe := `C:\Program Files\Ghostwire\ghostwire.exe`
	s, err := register(m, name, Spec{Executable: exe, Args: []string{"daemon"}})
	if err != nil {
		if left, oerr := m.OpenService(name); oerr == nil {
			_ = left.Delete()
			left.Close()
		}
		t.Fatal(err)
	}
	defer func() {
		if err := s.Delete(); err != nil {
			t.Errorf("delete: %v", err)
		}
		s.Close()
	}()

	k, err := registry.OpenKey(registry.LOCAL_MACHINE, `SYSTEM\CurrentControlSet\Services\`+name, registry.QUERY_VALUE)
	if err != nil {
		t.Fatalf("the service's registry key: %v", err)
	}
	defer k.Close()
	str := func(n string) string { v, _, _ := k.GetStringValue(n); return v }
	num := func(n string) uint64 { v, _, _ := k.GetIntegerValue(n); return v }
	if got := str("ImagePath"); got != `"`+exe+`" daemon` {
		t.Errorf("ImagePath %q", got)
	}
	if num("Start") != 2 || num("Type") != 0x10 || num("ErrorControl") != 1 {
		t.Errorf("Start %d (want 2, automatic), Type %#x (own process), ErrorControl %d", num("Start"), num("Type"), num("ErrorControl"))
	}
	if got := str("ObjectName"); got != WindowsAccount {
		t.Errorf("ObjectName %q, want %s", got, WindowsAccount)
	}
	if got := str("DisplayName"); got != WindowsDisplayName {
		t.Errorf("DisplayName %q", got)
	}
	if got := str("Description"); got != WindowsDescription {
		t.Errorf("Description %q", got)
	}
	if deps, _, err := k.GetStringsValue("DependOnService"); err != nil || !slices.Equal(deps, WindowsDependencies) {
		t.Errorf("DependOnService %v (%v), want %v", deps, err, WindowsDependencies)
	}

	// Restart on failure, crash or error exit alike.
	acts, err := s.RecoveryActions()
	if err != nil && wintest.UnderWine() {
		t.Logf("recovery actions not checked: Wine accepts them but keeps none (%v); the hosted Windows runner checks them", err)
	} else if err != nil {
		t.Errorf("recovery actions: %v", err)
	} else {
		if len(acts) != len(WindowsRestartDelays) {
			t.Fatalf("recovery actions %v", acts)
		}
		for i, a := range acts {
			if a.Type != mgr.ServiceRestart || a.Delay != WindowsRestartDelays[i] {
				t.Errorf("recovery action %d: %+v, want restart after %s", i, a, WindowsRestartDelays[i])
			}
		}
		if p, err := s.ResetPeriod(); err == nil && p != uint32(WindowsRecoveryReset/time.Second) {
			t.Errorf("reset period %d s", p)
		}
	}
	if on, err := s.RecoveryActionsOnNonCrashFailures(); err == nil && !on {
		t.Error("an error exit must trigger the recovery actions too")
	} else if err != nil && !wintest.UnderWine() {
		t.Errorf("non-crash failure flag: %v", err)
	}

	// Installing again updates the registration in place.
	exe2 := `C:\Program Files\Ghostwire 2\ghostwire.exe`
	s2, err := register(m, name, Spec{Executable: exe2})
	if err != nil {
		t.Fatalf("register again: %v", err)
	}
	s2.Close()
	if got := str("ImagePath"); got != `"`+exe2+`" daemon` {
		t.Errorf("ImagePath after update %q", got)
	}
}

func TestWindowsLogOutputOutsideTheServiceManager(t *testing.T) {
	var b bytes.Buffer
	if LogOutput(&b) != &b {
		t.Fatal("a daemon started by hand must log to its stderr")
	}
	if commandLine(`C:\a b\g.exe`, []string{"daemon", "--dns", "nrpt"}) != `"C:\a b\g.exe" daemon --dns nrpt` {
		t.Fatal(commandLine(`C:\a b\g.exe`, []string{"daemon", "--dns", "nrpt"}))
	}
}
