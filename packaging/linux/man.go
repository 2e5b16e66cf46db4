package linux

import (
	"bytes"
	"compress/gzip"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra/doc"

	"github.com/ghostwire/ghostwire/app/cli"
	"github.com/ghostwire/ghostwire/packaging/release"
)

// ManDir is where the manual pages go.
const ManDir = "/usr/share/man/man1"

// manPages renders one page per command (ghostwire.1, ghostwire-up.1, ...)
// from the CLI's own help, compressed without a name or time in the gzip
// header, by destination path.
func manPages(v release.Version, dir string) (map[string][]byte, error) {
	date := v.Time
	if date.IsZero() {
		date = time.Unix(0, 0).UTC()
	}
	root := (&cli.App{Version: v.String()}).NewRoot()
	root.DisableAutoGenTag = true
	hdr := &doc.GenManHeader{Title: "GHOSTWIRE", Section: "1", Date: &date, Source: "ghostwire " + v.String(), Manual: "ghostwire manual"}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	if err := doc.GenManTree(root, hdr, dir); err != nil {
		return nil, err
	}
	names, err := filepath.Glob(filepath.Join(dir, "*.1"))
	if err != nil {
		return nil, err
	}
	out := map[string][]byte{}
	for _, n := range names {
		page, err := os.ReadFile(n)
		if err != nil {
			return nil, err
		}
		gz, err := gzipNoName(page)
		if err != nil {
			return nil, err
		}
		out[ManDir+"/"+filepath.Base(n)+".gz"] = gz
	}
	return out, nil
}

func gzipNoName(b []byte) ([]byte, error) {
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if err != nil {
		return nil, err
	}
	if _, err := zw.Write(b); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
