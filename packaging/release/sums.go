package release

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// FileSHA256 is the hex SHA-256 of a file.
func FileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// writeSums writes SHA256SUMS for names (files in dist), in the format of
// coreutils' sha256sum, so `sha256sum -c SHA256SUMS` checks a download.
func writeSums(dist string, names []string) error {
	names = append([]string(nil), names...)
	sort.Strings(names)
	var b strings.Builder
	for _, n := range names {
		if strings.ContainsAny(n, "\n\\") || strings.Contains(n, "/") {
			return fmt.Errorf("%q cannot be listed in %s", n, SumsFile)
		}
		sum, err := FileSHA256(filepath.Join(dist, n))
		if err != nil {
			return err
		}
		fmt.Fprintf(&b, "%s  %s\n", sum, n)
	}
	return os.WriteFile(filepath.Join(dist, SumsFile), []byte(b.String()), 0o644)
}

// VerifySums checks every file SHA256SUMS lists, and that it lists every
// artifact and SBOM of the manifest.
func VerifySums(dist string) error {
	f, err := os.Open(filepath.Join(dist, SumsFile))
	if err != nil {
		return fmt.Errorf("cannot read %s: %w", SumsFile, err)
	}
	defer f.Close()
	listed := map[string]bool{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		sum, name, ok := strings.Cut(sc.Text(), "  ")
		if !ok || len(sum) != 64 {
			return fmt.Errorf("%s has a malformed line %q", SumsFile, sc.Text())
		}
		got, err := FileSHA256(filepath.Join(dist, name))
		if err != nil {
			return fmt.Errorf("%s lists %s: %w", SumsFile, name, err)
		}
		if got != sum {
			return fmt.Errorf("%s does not match %s (the file changed after the build)", name, SumsFile)
		}
		listed[name] = true
	}
	if err := sc.Err(); err != nil {
		return err
	}
	m, err := LoadManifest(dist)
	if err != nil {
		return err
	}
	for _, a := range m.Artifacts {
		for _, n := range []string{a.File, a.SBOM} {
			if !listed[n] {
				return fmt.Errorf("%s does not list %s", SumsFile, n)
			}
		}
	}
	return nil
}
