package devidp

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"os"
	"strings"
)

// Role and group values of the default users.
const (
	RoleUser  = "VPN.User"
	RoleAdmin = "VPN.Admin"
	// GroupVPNUsers and GroupVPNAdmins are group object IDs, as Entra puts them
	// in the groups claim (never names).
	GroupVPNUsers  = "5b0e6f2a-3c1d-4e8f-9a7b-1c2d3e4f5a01"
	GroupVPNAdmins = "5b0e6f2a-3c1d-4e8f-9a7b-1c2d3e4f5a02"
	// DefaultTenantID is the tid claim of every token unless Options.TenantID is set.
	DefaultTenantID = "2f4a1b6c-0d3e-4f5a-8b9c-0123456789ab"
)

// Default user names.
const (
	UserDemo     = "demo@example.com"  // VPN.User, in VPN Users
	UserOutsider = "guest@example.com" // signed in fine, but neither role nor group
	UserAdmin    = "admin@example.com" // VPN.User + VPN.Admin
)

// User is one account of the provider. Only Username is required.
type User struct {
	// Username is the sign-in name and the preferred_username claim.
	Username string `json:"username"`
	// Subject is the sub claim; derived from Username when empty.
	Subject string `json:"sub,omitempty"`
	// ObjectID is the oid claim (a GUID); derived from Username when empty.
	ObjectID string   `json:"oid,omitempty"`
	Name     string   `json:"name,omitempty"`
	Roles    []string `json:"roles,omitempty"`
	Groups   []string `json:"groups,omitempty"`
}

// DefaultUsers are demo@example.com (allowed), guest@example.com (not allowed)
// and admin@example.com (allowed, admin).
func DefaultUsers() []User {
	return []User{
		{Username: UserDemo, Name: "Demo User", Roles: []string{RoleUser}, Groups: []string{GroupVPNUsers}},
		{Username: UserOutsider, Name: "Guest Without Access"},
		{Username: UserAdmin, Name: "Admin User", Roles: []string{RoleUser, RoleAdmin}, Groups: []string{GroupVPNUsers, GroupVPNAdmins}},
	}
}

// LoadUsers reads a JSON array of User from path.
func LoadUsers(path string) ([]User, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read users file: %w", err)
	}
	var users []User
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&users); err != nil {
		return nil, fmt.Errorf("users file %s is not a JSON array of {username, sub, oid, name, roles, groups}: %w", path, err)
	}
	return users, nil
}

// ParseUserFlag reads "name[:role,role[:group,group]]", the --user flag.
func ParseUserFlag(s string) (User, error) {
	parts := strings.Split(s, ":")
	if len(parts) > 3 || strings.TrimSpace(parts[0]) == "" {
		return User{}, fmt.Errorf("--user %q: want name[:role,role[:group,group]]", s)
	}
	list := func(i int) []string {
		if i >= len(parts) {
			return nil
		}
		var out []string
		for _, x := range strings.Split(parts[i], ",") {
			if x = strings.TrimSpace(x); x != "" {
				out = append(out, x)
			}
		}
		return out
	}
	return User{Username: strings.TrimSpace(parts[0]), Roles: list(1), Groups: list(2)}, nil
}

// normalize fills derived fields and checks the list.
func normalizeUsers(in []User) (map[string]*User, error) {
	if len(in) == 0 {
		return nil, fmt.Errorf("no users configured")
	}
	byName := make(map[string]*User, len(in))
	for i := range in {
		u := in[i]
		u.Username = strings.TrimSpace(u.Username)
		if u.Username == "" {
			return nil, fmt.Errorf("user %d has no username", i+1)
		}
		key := strings.ToLower(u.Username)
		if _, dup := byName[key]; dup {
			return nil, fmt.Errorf("user %q is listed twice", u.Username)
		}
		if u.ObjectID == "" {
			u.ObjectID = derivedGUID("oid:" + key)
		}
		if u.Subject == "" {
			u.Subject = derivedGUID("sub:" + key)
		}
		if u.Name == "" {
			u.Name = u.Username
		}
		byName[key] = &u
	}
	return byName, nil
}

// derivedGUID makes a stable GUID-shaped value, so a user keeps its sub and oid
// across restarts of the provider.
func derivedGUID(s string) string {
	h := sha256.Sum256([]byte(s))
	return fmt.Sprintf("%x-%x-%x-%x-%x", h[0:4], h[4:6], h[6:8], h[8:10], h[10:16])
}
