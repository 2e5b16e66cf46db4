package main

import (
	"strings"
	"testing"

	"github.com/spf13/pflag"

	"github.com/ghostwire/ghostwire/server/config"
)

func TestClientRoutesAddUncoveredDNS(t *testing.T) {
	got := clientRoutes([]string{"10.0.0.0/16"}, []string{"10.0.0.10", "192.168.5.53", "fd00::53"})
	if strings.Join(got, " ") != "10.0.0.0/16 192.168.5.53/32 fd00::53/128" {
		t.Fatalf("got %v", got)
	}
}

// Every flag is listed in --help with its environment variable, and the
// command refuses a bad configuration with the reasons before touching
// anything.
func TestHelpAndValidation(t *testing.T) {
	cmd := rootCommand()
	var out strings.Builder
	cmd.SetOut(&out)
	cmd.SetArgs([]string{"--help"})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	c := config.Default()
	fs := c.Flags()
	n := 0
	fs.VisitAll(func(f *pflag.Flag) {
		n++
		if !strings.Contains(out.String(), "--"+f.Name) || !strings.Contains(out.String(), config.EnvName(f.Name)) {
			t.Errorf("--help lacks --%s / %s", f.Name, config.EnvName(f.Name))
		}
	})
	if n == 0 || !strings.Contains(out.String(), "dev-idp") {
		t.Fatalf("help:\n%s", out.String())
	}

	cmd = rootCommand()
	cmd.SetArgs([]string{"--cidr", "100.64.0.1/16"})
	err := cmd.Execute()
	if err == nil || !strings.Contains(err.Error(), "--tls-cert") || !strings.Contains(err.Error(), "did you mean 100.64.0.0/16") ||
		!strings.Contains(err.Error(), "no sign-in provider") || !strings.Contains(err.Error(), "need an endpoint") {
		t.Fatalf("validation: %v", err)
	}
	t.Setenv("GHOSTWIRE_MTU", "lots")
	cmd = rootCommand()
	cmd.SetArgs(nil)
	if err := cmd.Execute(); err == nil || !strings.Contains(err.Error(), "GHOSTWIRE_MTU") {
		t.Fatalf("bad env: %v", err)
	}
}
