package release

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

func TestVersionForms(t *testing.T) {
	for _, c := range []struct {
		describe      string
		str, deb, rpm string
		release       bool
	}{
		{"v1.4.0-0-g1a2b3c4d5e6f", "1.4.0", "1.4.0", "1.4.0", true},
		{"v1.4.0-3-g1a2b3c4d5e6f", "1.4.0+git3.1a2b3c4d5e6f", "1.4.0+git3.1a2b3c4d5e6f", "1.4.0+git3.1a2b3c4d5e6f", false},
		{"v1.4.0-0-g1a2b3c4d5e6f-dirty", "1.4.0+dirty", "1.4.0+dirty", "1.4.0+dirty", false},
		{"v1.3.0-rc.1-0-gabcdefabcdef", "1.3.0-rc.1", "1.3.0~rc.1", "1.3.0~rc.1", true},
		{"v1.3.0-rc.1-2-gabcdefabcdef-dirty", "1.3.0-rc.1+git2.abcdefabcdef.dirty", "1.3.0~rc.1+git2.abcdefabcdef.dirty", "1.3.0~rc.1+git2.abcdefabcdef.dirty", false},
	} {
		v, err := ParseDescribe(c.describe)
		if err != nil {
			t.Fatalf("%s: %v", c.describe, err)
		}
		rpm, rel := v.RPM()
		if v.String() != c.str || v.Deb() != c.deb || rpm != c.rpm || rel != "1" || v.IsRelease() != c.release {
			t.Errorf("%s: got %s / deb %s / rpm %s-%s / release %v", c.describe, v, v.Deb(), rpm, rel, v.IsRelease())
		}
	}
	for _, bad := range []string{"v1.2-0-gabc", "1.2.3-0-gabc", "v01.2.3-0-gabc", "v1.2.3-x-gabc", "v1.2.3-rc_1-0-gabc"} {
		if _, err := ParseDescribe(bad); err == nil {
			t.Errorf("%q must be refused", bad)
		}
	}
}

// dpkg decides upgrades: a later commit must sort after an earlier one and
// after its tag, a release candidate before its release.
func TestDebVersionsSortAsUpgradesGo(t *testing.T) {
	if _, err := exec.LookPath("dpkg"); err != nil {
		t.Skip("dpkg is not installed")
	}
	order := []string{
		"0.0.0+git9.aaaaaaaaaaaa",
		"0.0.0+git10.aaaaaaaaaaaa",
		"1.3.0-rc.1-0-gabcdefabcdef",
		"1.3.0-rc.1-4-gabcdefabcdef",
		"v1.3.0-0-gabcdefabcdef",
		"v1.3.0-2-gabcdefabcdef",
		"v1.3.0-10-gabcdefabcdef",
		"v1.3.1-0-gabcdefabcdef",
	}
	var debs []string
	for _, d := range order {
		if strings.HasPrefix(d, "0.0.0") {
			debs = append(debs, d)
			continue
		}
		if !strings.HasPrefix(d, "v") {
			d = "v" + d
		}
		v, err := ParseDescribe(d)
		if err != nil {
			t.Fatal(err)
		}
		debs = append(debs, v.Deb())
	}
	sorted := append([]string(nil), debs...)
	sort.SliceStable(sorted, func(i, j int) bool {
		return exec.Command("dpkg", "--compare-versions", sorted[i], "lt", sorted[j]).Run() == nil
	})
	if strings.Join(sorted, " ") != strings.Join(debs, " ") {
		t.Errorf("dpkg orders\n %v\nnot as\n %v", sorted, debs)
	}
}

func TestFromGit(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git is not installed")
	}
	dir := t.TempDir()
	git := func(args ...string) {
		t.Helper()
		cmd := exec.Command("git", append([]string{"-C", dir, "-c", "user.name=t", "-c", "user.email=t@example.com", "-c", "commit.gpgsign=false", "-c", "tag.gpgsign=false"}, args...)...)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v %s", args, err, out)
		}
	}
	write := func(s string) {
		if err := os.WriteFile(filepath.Join(dir, "f"), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	git("init", "-q")
	write("1")
	git("add", "f")
	git("commit", "-qm", "one")
	write("2")
	git("commit", "-qam", "two")
	ctx := context.Background()
	v, err := FromGit(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	if v.Tag != "" || v.Commits != 2 || len(v.Hash) < 7 || v.Dirty || v.Time.IsZero() || !strings.HasPrefix(v.String(), "0.0.0+git2.") {
		t.Errorf("untagged: %+v %s", v, v)
	}
	git("tag", "-a", "v1.2.0", "-m", "release")
	if v, err = FromGit(ctx, dir); err != nil || !v.IsRelease() || v.String() != "1.2.0" {
		t.Errorf("at the tag: %+v %s %v", v, v, err)
	}
	git("tag", "not-a-release") // ignored by --match
	write("3")
	if v, err = FromGit(ctx, dir); err != nil || v.IsRelease() || v.String() != "1.2.0+dirty" {
		t.Errorf("dirty: %+v %s %v", v, v, err)
	}
	git("commit", "-qam", "three")
	if v, err = FromGit(ctx, dir); err != nil || v.Commits != 1 || !strings.HasPrefix(v.Deb(), "1.2.0+git1.") {
		t.Errorf("past the tag: %+v %s %v", v, v, err)
	}
	if _, err := FromGit(ctx, t.TempDir()); err == nil || !strings.Contains(err.Error(), "git") {
		t.Errorf("not a checkout: %v", err)
	}
}
