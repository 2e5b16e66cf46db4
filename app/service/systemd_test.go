package service

import (
	"strings"
	"testing"
)

func TestSystemdUnitCarriesTheDaemonAndItsLimits(t *testing.T) {
	u, err := SystemdUnit(Spec{Executable: "/usr/bin/ghostwire", Args: []string{"daemon"}}, InstalledByPackageComment)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(u, "# "+InstalledByPackageComment+"\n[Unit]\n") {
		t.Errorf("the unit must start with who installed it:\n%s", u)
	}
	for _, line := range []string{
		"ExecStart=/usr/bin/ghostwire daemon",
		"CapabilityBoundingSet=CAP_NET_ADMIN CAP_NET_BIND_SERVICE",
		"SupplementaryGroups=ghostwire",
		"RuntimeDirectory=ghostwire",
		"StateDirectory=ghostwire",
		"NoNewPrivileges=yes",
		"ProtectSystem=true",
		"DeviceAllow=/dev/net/tun rw",
		"WantedBy=multi-user.target",
	} {
		if !strings.Contains(u, "\n"+line+"\n") {
			t.Errorf("unit lacks %q:\n%s", line, u)
		}
	}
	// The runtime and state directories are the ones the daemon uses.
	if !strings.Contains(u, "RuntimeDirectoryMode=0755\n") || !strings.Contains(u, "StateDirectoryMode=0700\n") {
		t.Errorf("directory modes must match the daemon's (socket dir 0755, state 0700):\n%s", u)
	}
	// Anything that would make /etc read-only breaks the resolv.conf DNS mode.
	for _, bad := range []string{"ProtectSystem=full", "ProtectSystem=strict", "ReadOnlyPaths=/etc"} {
		if strings.Contains(u, "\n"+bad) {
			t.Errorf("unit has %q, which stops the daemon restoring /etc/resolv.conf", bad)
		}
	}
}

func TestUnitQuoting(t *testing.T) {
	for exe, want := range map[string]string{
		"/usr/bin/ghostwire":        "ExecStart=/usr/bin/ghostwire daemon\n",
		"/opt/Ghost Wire/ghostwire": `ExecStart="/opt/Ghost Wire/ghostwire" daemon` + "\n",
		`/opt/100%/$HOME/g"w\x`:     `ExecStart="/opt/100%%/$$HOME/g\"w\\x" daemon` + "\n",
		"/opt/semi;colon/ghostwire": `ExecStart="/opt/semi;colon/ghostwire" daemon` + "\n",
		"/opt/quote's/ghostwire":    `ExecStart="/opt/quote's/ghostwire" daemon` + "\n",
	} {
		u, err := SystemdUnit(Spec{Executable: exe, Args: []string{"daemon"}}, "x")
		if err != nil {
			t.Fatalf("%s: %v", exe, err)
		}
		if !strings.Contains(u, "\n"+want) {
			t.Errorf("%s: want %q in\n%s", exe, want, u)
		}
	}
	for _, bad := range []string{"ghostwire", "bin/ghostwire", "/opt/new\nline/ghostwire"} {
		if _, err := SystemdUnit(Spec{Executable: bad}, "x"); err == nil {
			t.Errorf("%q must be refused", bad)
		}
	}
}
