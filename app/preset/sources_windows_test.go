package preset

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"golang.org/x/sys/windows/registry"
)

// The registry source against a real registry (Wine's under `make
// test-windows`, the runner's natively), in a key of the test's own.
func TestWindowsRegistryPreset(t *testing.T) {
	key := fmt.Sprintf(`SOFTWARE\GhostwireTest\preset-%d`, os.Getpid())
	r := Registry{Key: key}
	t.Cleanup(func() {
		_ = registry.DeleteKey(registry.LOCAL_MACHINE, key)
		_ = registry.DeleteKey(registry.LOCAL_MACHINE, `SOFTWARE\GhostwireTest`)
	})
	if p, err := r.Read(); p != nil || err != nil {
		t.Fatalf("no key = no preset: %+v %v", p, err)
	}
	k, _, err := registry.CreateKey(registry.LOCAL_MACHINE, key, registry.SET_VALUE|registry.WOW64_64KEY)
	if err != nil {
		t.Fatalf("creating the test key needs administrator rights: %v", err)
	}
	defer k.Close()
	// As the MSI writes it (REG_SZ), and an empty default value beside.
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(k.SetStringValue("ServerURL", "https://vpn.corp.example"))
	must(k.SetStringValue("Profile", "prod"))
	must(k.SetStringValue("", ""))
	p, err := r.Read()
	if err != nil || p == nil || p.Server != "https://vpn.corp.example" || p.Profile != "prod" || p.Source != `HKLM\`+key {
		t.Fatalf("%+v %v", p, err)
	}
	// A PEM of several lines as REG_MULTI_SZ reaches the CA check as lines
	// (a bad one is named).
	must(k.SetStringsValue("CAPEM", []string{"-----BEGIN CERTIFICATE-----", "nope", "-----END CERTIFICATE-----"}))
	if _, err := r.Read(); err == nil || !strings.Contains(err.Error(), "private CA") {
		t.Errorf("a bad CA must be reported: %v", err)
	}
	must(k.DeleteValue("CAPEM"))
	must(k.SetDWordValue("Profile", 1))
	if _, err := r.Read(); err == nil || !strings.Contains(err.Error(), "must be a string") {
		t.Errorf("a DWORD profile must be reported: %v", err)
	}
	must(k.SetStringValue("Profile", "prod"))
	must(k.SetStringValue("Sever", "https://typo.example"))
	if _, err := r.Read(); err == nil || !strings.Contains(err.Error(), "does not know") {
		t.Errorf("an unknown value must be reported: %v", err)
	}
	if got := SystemSources(); len(got) != 1 || got[0].Name() != `HKLM\SOFTWARE\Policies\Ghostwire` {
		t.Errorf("SystemSources: %v", got)
	}
}
