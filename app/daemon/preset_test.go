//go:build linux

package daemon

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ghostwire/ghostwire/app/localapi"
	"github.com/ghostwire/ghostwire/app/preset"
)

// The organisation's preset becomes a profile the menu offers at once
// (disconnected: nothing connects by itself), survives restarts, follows the
// organisation's server change, and never duplicates the person's own profile.
func TestPresetBecomesAProfile(t *testing.T) {
	dir := t.TempDir()
	apis := map[string]*memAPI{
		"https://vpn.corp.example": {peers: map[string]bool{}},
		"https://new.corp.example": {peers: map[string]bool{}},
		"https://mine.example":     {peers: map[string]bool{}},
	}
	r := newDaemonRig(t, dir, apis, 0)
	p := preset.Preset{Server: "https://vpn.corp.example", Profile: "prod", Source: "test"}
	if err := r.d.ApplyPreset(p); err != nil {
		t.Fatal(err)
	}
	st := r.d.Status()
	if len(st.Profiles) != 1 || st.Profiles[0].Name != "prod" || st.Profiles[0].Server != p.Server || st.Profiles[0].State != localapi.StateDisconnected {
		t.Fatalf("status after the preset: %+v", st.Profiles)
	}
	saved, _ := os.ReadFile(filepath.Join(dir, "profiles.json"))
	if !strings.Contains(string(saved), `"name": "prod"`) {
		t.Errorf("the preset's profile is not saved: %s", saved)
	}
	// Again (the next start): nothing changes.
	seq := r.d.Status().Seq
	if err := r.d.ApplyPreset(p); err != nil || r.d.Status().Seq != seq {
		t.Errorf("re-applying the same preset changed something: %v", err)
	}
	// The organisation moves the server: the profile follows.
	p.Server = "https://new.corp.example"
	if err := r.d.ApplyPreset(p); err != nil {
		t.Fatal(err)
	}
	if st := r.d.Status(); len(st.Profiles) != 1 || st.Profiles[0].Server != "https://new.corp.example" {
		t.Errorf("after the server moved: %+v", st.Profiles)
	}
	// A preset for a server the person already has under another name adds nothing.
	r2 := newDaemonRig(t, t.TempDir(), apis, 0)
	if err := r2.d.ApplyPreset(preset.Preset{Server: "https://mine.example", Profile: "mine", Source: "test"}); err != nil {
		t.Fatal(err)
	}
	if err := r2.d.ApplyPreset(preset.Preset{Server: "https://mine.example", Profile: "corp", Source: "test"}); err != nil {
		t.Fatal(err)
	}
	if st := r2.d.Status(); len(st.Profiles) != 1 || st.Profiles[0].Name != "mine" {
		t.Errorf("a duplicate server must not be added: %+v", st.Profiles)
	}
}

// The preset's profile is kept like a connected one: `down --all` before it
// ever connected leaves it in the menu and in profiles.json.
func TestPresetProfileSurvivesDown(t *testing.T) {
	dir := t.TempDir()
	apis := map[string]*memAPI{"https://vpn.corp.example": {peers: map[string]bool{}}}
	r := newDaemonRig(t, dir, apis, 0)
	if err := r.d.ApplyPreset(preset.Preset{Server: "https://vpn.corp.example", Profile: "prod", Source: "test"}); err != nil {
		t.Fatal(err)
	}
	if err := r.d.Down(context.Background(), localapi.ProfileRequest{All: true}); err != nil {
		t.Fatal(err)
	}
	if st := r.d.Status(); len(st.Profiles) != 1 || st.Profiles[0].Name != "prod" {
		t.Fatalf("the preset's profile went with down: %+v", st.Profiles)
	}
	if f := readProfiles(t, dir); len(f.Profiles) != 1 || f.Profiles[0].Name != "prod" {
		t.Fatalf("profiles.json after down: %+v", f.Profiles)
	}
}

// When the organisation moves the server, the last registration (on the old
// server) is not handed to the new one.
func TestPresetServerMoveForgetsLastPeer(t *testing.T) {
	dir := t.TempDir()
	apis := map[string]*memAPI{
		"https://vpn.corp.example": {routes: []string{"10.203.96.0/20"}, peers: map[string]bool{}},
		"https://new.corp.example": {peers: map[string]bool{}},
	}
	r := newDaemonRig(t, dir, apis, 0)
	p := preset.Preset{Server: "https://vpn.corp.example", Profile: "prod", Source: "test"}
	if err := r.d.ApplyPreset(p); err != nil {
		t.Fatal(err)
	}
	if _, err := r.c.Up(context.Background(), localapi.UpRequest{Profile: "prod"}); err != nil {
		t.Fatal(err)
	}
	waitProfile(t, r.c, "prod", localapi.StateConnected)
	if f := readProfiles(t, dir); len(f.Profiles) != 1 || f.Profiles[0].LastPeer == "" {
		t.Fatalf("no last peer kept: %+v", f.Profiles)
	}
	p.Server = "https://new.corp.example"
	if err := r.d.ApplyPreset(p); err != nil {
		t.Fatal(err)
	}
	if f := readProfiles(t, dir); len(f.Profiles) != 1 || f.Profiles[0].Server != p.Server || f.Profiles[0].LastPeer != "" {
		t.Fatalf("after the server moved: %+v", f.Profiles)
	}
}
