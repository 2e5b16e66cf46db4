package menu

import (
	"errors"
	"net/url"
	"strings"

	"github.com/ghostwire/ghostwire/app/localapi"
)

// Prompts decides when the tray opens the browser by itself: once per sign-in
// prompt (SignInPrompt.Seq), never again on later status updates for the same
// prompt. The zero value is ready.
type Prompts struct {
	opened map[string]uint64
}

// ToOpen returns the URLs to open for the sign-in prompts in st that were not
// opened yet, and remembers them.
func (p *Prompts) ToOpen(st localapi.Status) []string {
	if p.opened == nil {
		p.opened = make(map[string]uint64)
	}
	var urls []string
	for _, pr := range st.Profiles {
		if pr.SignIn == nil || pr.State != localapi.StateSigningIn {
			continue
		}
		if seen, ok := p.opened[pr.Name]; ok && seen == pr.SignIn.Seq {
			continue
		}
		p.opened[pr.Name] = pr.SignIn.Seq
		if u := PromptURL(pr.SignIn); u != "" {
			urls = append(urls, u)
		}
	}
	return urls
}

// ParseServerURL checks what a person typed in "Add cluster…": an https URL with
// a host (a bare host name gets https:// in front). It returns the URL to pass
// to Up.
func ParseServerURL(s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", errors.New("no server address given")
	}
	if !strings.Contains(s, "://") {
		s = "https://" + s
	}
	u, err := url.Parse(s)
	if err != nil || u.Host == "" {
		return "", errors.New("this is not a server address: use one like https://vpn.example.com")
	}
	if u.Scheme != "https" {
		return "", errors.New("the server address must start with https:// (ghostwire never sends a sign-in over plain http)")
	}
	if u.User != nil {
		return "", errors.New("the server address must not contain a user name or password")
	}
	u.Fragment, u.RawQuery = "", ""
	return strings.TrimSuffix(u.String(), "/"), nil
}
