package config

import (
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
)

func valid() Config {
	c := Default()
	c.InsecureHTTP = true
	c.Issuer = "https://idp.example.com"
	c.Audience = "ghostwire"
	c.ClientID = "ghostwire-cli"
	c.AllowedRoles = []string{"vpn.user"}
	c.Endpoint = "vpn.example.com:51820"
	return c
}

func TestEnvName(t *testing.T) {
	for in, want := range map[string]string{
		"idle-timeout":          "GHOSTWIRE_IDLE_TIMEOUT",
		"listen":                "GHOSTWIRE_LISTEN",
		"kube-namespace-search": "GHOSTWIRE_KUBE_NAMESPACE_SEARCH",
	} {
		if got := EnvName(in); got != want {
			t.Errorf("EnvName(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestEveryFlagHasEnvInUsage(t *testing.T) {
	c := Default()
	n := 0
	c.Flags().VisitAll(func(f *pflag.Flag) {
		n++
		if !strings.Contains(f.Usage, EnvName(f.Name)) {
			t.Errorf("--%s usage does not name %s", f.Name, EnvName(f.Name))
		}
	})
	if n < 40 {
		t.Fatalf("only %d flags", n)
	}
}

func TestEnvAndFlagPrecedence(t *testing.T) {
	c := Default()
	fs := c.Flags()
	if err := fs.Parse([]string{"--device-cap=7"}); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{
		"GHOSTWIRE_IDLE_TIMEOUT":  "3m",
		"GHOSTWIRE_DEVICE_CAP":    "9", // the command line wins
		"GHOSTWIRE_ROUTES":        "10.0.0.0/8,10.244.0.0/16",
		"GHOSTWIRE_INSECURE_HTTP": "true",
	}
	err := ApplyEnv(fs, func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil {
		t.Fatal(err)
	}
	if c.IdleTimeout != 3*time.Minute || c.DeviceCap != 7 || len(c.Routes) != 2 || !c.InsecureHTTP {
		t.Fatalf("got idle=%s cap=%d routes=%v insecure=%v", c.IdleTimeout, c.DeviceCap, c.Routes, c.InsecureHTTP)
	}
	err = ApplyEnv(c.Flags(), func(k string) (string, bool) { return "soon", k == "GHOSTWIRE_MAX_LIFETIME" })
	if err == nil || !strings.Contains(err.Error(), "GHOSTWIRE_MAX_LIFETIME") {
		t.Fatalf("bad env value error = %v", err)
	}
}

func TestValidate(t *testing.T) {
	c := valid()
	if err := c.Validate(); err != nil {
		t.Fatalf("valid config refused: %v", err)
	}
	if c.Provider() != "oidc" {
		t.Fatalf("provider %q", c.Provider())
	}
	cases := map[string]struct {
		mut  func(*Config)
		want string
	}{
		"no tls":           {func(c *Config) { c.InsecureHTTP = false }, "--tls-cert"},
		"tls and insecure": {func(c *Config) { c.TLSCert, c.TLSKey = "a", "b" }, "contradict"},
		"no provider":      {func(c *Config) { c.Issuer = "" }, "no sign-in provider"},
		"http issuer":      {func(c *Config) { c.Issuer = "http://idp.example.com" }, "https://"},
		"bad tenant":       {func(c *Config) { c.EntraTenantID = "contoso"; c.EntraAPIAppID = "x" }, "tenant GUID"},
		"nobody allowed":   {func(c *Config) { c.AllowedRoles = nil }, "nobody could connect"},
		"long iface":       {func(c *Config) { c.Interface = "ghostwire-interface0" }, "--interface"},
		"host bits":        {func(c *Config) { c.CIDR = "100.64.0.1/16" }, "did you mean 100.64.0.0/16"},
		"tiny pool":        {func(c *Config) { c.CIDR = "100.64.0.0/31" }, "too small"},
		"no endpoint":      {func(c *Config) { c.Endpoint = "" }, "need an endpoint"},
		"both endpoints":   {func(c *Config) { c.KubeService = "a/b" }, "not both"},
		"bad kube svc":     {func(c *Config) { c.Endpoint = ""; c.KubeService = "ghostwire" }, "namespace/name"},
		"bad route":        {func(c *Config) { c.Routes = []string{"10.0.0.1/8"} }, "--routes"},
		"bad dns":          {func(c *Config) { c.DNSServers = []string{"coredns"} }, "--dns-servers"},
		"bad domain":       {func(c *Config) { c.SearchDomains = []string{"a..b"} }, "not a valid DNS name"},
		"cap":              {func(c *Config) { c.DeviceCap = 0 }, "--device-cap"},
		"sweep":            {func(c *Config) { c.SweepInterval = time.Hour }, "linger"},
		"idle too short":   {func(c *Config) { c.IdleTimeout = time.Minute }, "re-handshake interval"},
		"mode":             {func(c *Config) { c.WGMode = "magic" }, "--wg-mode"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			c := valid()
			tc.mut(&c)
			err := c.Validate()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Validate() = %v, want it to mention %q", err, tc.want)
			}
		})
	}
	e := valid()
	e.Issuer, e.Audience, e.ClientID = "", "", ""
	e.EntraTenantID = "72f988bf-86f1-41af-91ab-2d7cd011db47"
	e.EntraAPIAppID = "11111111-2222-3333-4444-555555555555"
	if err := e.Validate(); err != nil || e.Provider() != "entra" {
		t.Fatalf("entra config: %v %s", err, e.Provider())
	}
}

func TestDerivedEntra(t *testing.T) {
	c := valid()
	c.Issuer, c.Audience, c.ClientID = "", "", ""
	c.EntraTenantID = "72f988bf-86f1-41af-91ab-2d7cd011db47"
	c.EntraAPIAppID = "11111111-2222-3333-4444-555555555555"
	c.AllowedRoles = nil
	a := c.APIConfig("v1")
	if a.Provider != "entra" || a.Issuer != "https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47/v2.0" ||
		a.ClientID != c.EntraAPIAppID || a.Scopes[0] != "api://11111111-2222-3333-4444-555555555555/vpn.connect" || a.TenantID != c.EntraTenantID {
		t.Fatalf("%+v", a)
	}
	v, err := c.VerifyConfig()
	if err != nil || v.Audience != c.EntraAPIAppID || v.TenantID != c.EntraTenantID || v.RequiredScope != "vpn.connect" ||
		v.AllowedRoles[0] != "VPN.User" || v.AdminRoles[0] != "VPN.Admin" {
		t.Fatalf("%+v %v", v, err)
	}
	c.AllowedGroups = []string{"0000-group"}
	if v, _ := c.VerifyConfig(); v.AllowedGroups[0] != "0000-group" || v.AllowedRoles[0] != "VPN.User" {
		t.Fatalf("override: %+v", v)
	}
}

func TestDerivedOIDC(t *testing.T) {
	c := valid()
	c.RequiredScope = "vpn.connect"
	a := c.APIConfig("")
	if a.Provider != "oidc" || a.Issuer != c.Issuer || a.ClientID != "ghostwire-cli" || strings.Join(a.Scopes, " ") != "openid profile offline_access vpn.connect" {
		t.Fatalf("%+v", a)
	}
	c.IssuerCAFile = "/nonexistent"
	if _, err := c.VerifyConfig(); err == nil {
		t.Fatal("missing CA file accepted")
	}
}
