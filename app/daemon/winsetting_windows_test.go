package daemon

import (
	"testing"

	"golang.org/x/sys/windows/registry"
)

// The machine setting the MSI writes (INTERACTIVEUSERS), read from the real
// registry (Wine's under `make test-windows`): "1" or DWORD 1 lets the
// people logged on at the machine in, anything else or nothing does not.
func TestWindowsInteractiveUsersSetting(t *testing.T) {
	k, existed, err := registry.CreateKey(registry.LOCAL_MACHINE, WindowsSettingsKey, registry.ALL_ACCESS|registry.WOW64_64KEY)
	if err != nil {
		t.Fatalf("needs administrator rights: %v", err)
	}
	defer k.Close()
	old, oldType, oldErr := func() ([]byte, uint32, error) {
		buf := make([]byte, 64)
		n, typ, err := k.GetValue(InteractiveUsersValue, buf)
		return buf[:max(n, 0)], typ, err
	}()
	t.Cleanup(func() {
		if oldErr == nil {
			switch oldType {
			case registry.SZ:
				_ = k.SetStringValue(InteractiveUsersValue, string(old))
			case registry.DWORD:
				_ = k.SetDWordValue(InteractiveUsersValue, uint32(old[0]))
			}
		} else {
			_ = k.DeleteValue(InteractiveUsersValue)
		}
		if !existed {
			_ = registry.DeleteKey(registry.LOCAL_MACHINE, WindowsSettingsKey)
		}
	})
	_ = k.DeleteValue(InteractiveUsersValue)
	if interactiveUsersAllowed() {
		t.Error("no setting must not let interactive users in")
	}
	for i, c := range []struct {
		set  func() error
		want bool
	}{
		{func() error { return k.SetStringValue(InteractiveUsersValue, "1") }, true},
		{func() error { return k.SetStringValue(InteractiveUsersValue, "0") }, false},
		{func() error { return k.SetStringValue(InteractiveUsersValue, "") }, false},
		{func() error { return k.SetDWordValue(InteractiveUsersValue, 1) }, true},
		{func() error { return k.SetDWordValue(InteractiveUsersValue, 0) }, false},
	} {
		if err := c.set(); err != nil {
			t.Fatal(err)
		}
		if got := interactiveUsersAllowed(); got != c.want {
			t.Errorf("setting %d: allowed %v, want %v", i, got, c.want)
		}
	}
}
