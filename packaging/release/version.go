package release

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Version is what git says the tree is: the newest release tag reachable from
// HEAD (vMAJOR.MINOR.PATCH[-PRERELEASE]), how many commits HEAD is past it,
// HEAD's abbreviated hash, and whether tracked files were changed. Every
// artifact's version, every file name and the version the binaries report
// (`ghostwire --version`) come from here.
type Version struct {
	Major, Minor, Patch int
	// Pre is a tag's pre-release part ("rc.1" of v1.3.0-rc.1).
	Pre string
	// Tag is the release tag ("" when the history has none).
	Tag string
	// Commits is how many commits HEAD is past Tag (or the whole history
	// without a tag).
	Commits int
	// Hash is HEAD's abbreviated commit hash.
	Hash string
	// Dirty: tracked files differ from HEAD.
	Dirty bool
	// Time is HEAD's commit time: the files' time in every package, so that
	// building the same commit twice gives the same bytes.
	Time time.Time
}

// IsRelease reports whether this is exactly a release tag with a clean tree.
func (v Version) IsRelease() bool { return v.Tag != "" && v.Commits == 0 && !v.Dirty }

// Base is MAJOR.MINOR.PATCH.
func (v Version) Base() string { return fmt.Sprintf("%d.%d.%d", v.Major, v.Minor, v.Patch) }

// build is the part after "+" for builds past the tag: git<commits>.<hash>,
// with .dirty for a changed tree.
func (v Version) build() string {
	var parts []string
	if v.Commits > 0 || v.Tag == "" {
		parts = append(parts, fmt.Sprintf("git%d", v.Commits), v.Hash)
	}
	if v.Dirty {
		parts = append(parts, "dirty")
	}
	return strings.Join(parts, ".")
}

// String is the version as people and `ghostwire --version` see it, in
// SemVer 2.0 form: 1.4.0, 1.4.0-rc.1, 1.4.0+git3.1a2b3c4d5e6f,
// 0.0.0+git148.2556620abcde.dirty.
func (v Version) String() string {
	s := v.Base()
	if v.Pre != "" {
		s += "-" + v.Pre
	}
	if b := v.build(); b != "" {
		s += "+" + b
	}
	return s
}

// Deb is the Debian version (native package, no revision): a pre-release
// sorts before its release (~), a build past a tag after it (+): 1.4.0~rc.1 <
// 1.4.0 < 1.4.0+git3.1a2b3c4d5e6f < 1.4.1.
func (v Version) Deb() string {
	s := v.Base()
	if v.Pre != "" {
		s += "~" + v.Pre
	}
	if b := v.build(); b != "" {
		s += "+" + b
	}
	return s
}

// RPM is the RPM Version and Release: the same ordering as Deb with rpm's
// own rules (~ sorts before, + is a separator that makes the longer newer; no
// "-" allowed).
func (v Version) RPM() (version, release string) {
	return strings.ReplaceAll(v.Deb(), "-", "_"), "1"
}

var (
	tagRe      = regexp.MustCompile(`^v(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)(?:-([0-9A-Za-z.]+))?$`)
	describeRe = regexp.MustCompile(`^(v[^ ]+)-([0-9]+)-g([0-9a-f]+)(-dirty)?$`)
)

// TagMatch is the glob for release tags, for `git describe --match`.
const TagMatch = "v[0-9]*.[0-9]*.[0-9]*"

// ParseDescribe reads `git describe --tags --long --dirty --abbrev=12
// --match TagMatch`: "v1.4.0-3-g1a2b3c4d5e6f[-dirty]".
func ParseDescribe(s string) (Version, error) {
	m := describeRe.FindStringSubmatch(strings.TrimSpace(s))
	if m == nil {
		return Version{}, fmt.Errorf("git describe said %q, which is not TAG-N-gHASH", s)
	}
	v, err := ParseTag(m[1])
	if err != nil {
		return Version{}, err
	}
	v.Commits, _ = strconv.Atoi(m[2])
	v.Hash, v.Dirty = m[3], m[4] != ""
	return v, nil
}

// ParseTag reads a release tag: vMAJOR.MINOR.PATCH with an optional
// pre-release of letters, digits and dots (v1.3.0-rc.1).
func ParseTag(tag string) (Version, error) {
	m := tagRe.FindStringSubmatch(tag)
	if m == nil {
		return Version{}, fmt.Errorf("the tag %q is not a release tag: name releases vMAJOR.MINOR.PATCH, optionally with -rc.N", tag)
	}
	v := Version{Tag: tag, Pre: m[4]}
	v.Major, _ = strconv.Atoi(m[1])
	v.Minor, _ = strconv.Atoi(m[2])
	v.Patch, _ = strconv.Atoi(m[3])
	return v, nil
}

// FromGit reads the version of the checkout at dir.
func FromGit(ctx context.Context, dir string) (Version, error) {
	git := func(args ...string) (string, error) {
		cmd := exec.CommandContext(ctx, "git", append([]string{"-C", dir}, args...)...)
		out, err := cmd.Output()
		if err != nil {
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				return "", fmt.Errorf("git %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(string(ee.Stderr)))
			}
			return "", fmt.Errorf("git %s: %w (the version comes from git: build from a git checkout)", strings.Join(args, " "), err)
		}
		return strings.TrimSpace(string(out)), nil
	}
	var v Version
	if d, err := git("describe", "--tags", "--long", "--dirty", "--abbrev=12", "--match", TagMatch); err == nil {
		if v, err = ParseDescribe(d); err != nil {
			return Version{}, err
		}
	} else {
		// No release tag yet: 0.0.0 plus the number of commits, which still
		// grows with every commit so upgrades go forward.
		d, err := git("describe", "--always", "--dirty", "--abbrev=12")
		if err != nil {
			return Version{}, err
		}
		n, err := git("rev-list", "--count", "HEAD")
		if err != nil {
			return Version{}, err
		}
		v.Commits, _ = strconv.Atoi(n)
		v.Hash, v.Dirty = strings.CutSuffix(d, "-dirty")
	}
	ct, err := git("log", "-1", "--format=%ct", "HEAD")
	if err != nil {
		return Version{}, err
	}
	sec, err := strconv.ParseInt(ct, 10, 64)
	if err != nil {
		return Version{}, fmt.Errorf("git log gave the commit time %q: %w", ct, err)
	}
	v.Time = time.Unix(sec, 0).UTC()
	return v, nil
}
