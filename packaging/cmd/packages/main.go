// Command packages builds ghostwire's installers into dist/ (`make
// packages`), or checks that a dist/ may be published (`packages check`).
//
//	go run ./cmd/packages [-dist DIR] [-only deb,rpm] [-arch amd64,arm64]
//	go run ./cmd/packages version      # the version the build would stamp
//	go run ./cmd/packages check [-dist DIR]
//
// Run from the packaging module (packaging/). See packaging/README.md.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/ghostwire/ghostwire/packaging/linux"
	"github.com/ghostwire/ghostwire/packaging/release"
)

// builders are the installer builders of this build; a target whose builder
// is missing is listed as not built. The MSI and pkg builders join here.
var builders = map[string]release.Builder{
	"linux": linux.Builder{},
}

func main() {
	if err := run(context.Background(), os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "packages:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string) error {
	cmd := "build"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		cmd, args = args[0], args[1:]
	}
	fs := flag.NewFlagSet("packages "+cmd, flag.ContinueOnError)
	root := fs.String("root", "..", "the repository's root")
	dist := fs.String("dist", "../dist", "where the installers go")
	only := fs.String("only", "", "build only these formats, comma-separated (deb,rpm,...)")
	arch := fs.String("arch", "", "build only these architectures, comma-separated (amd64,arm64)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected %q", fs.Args())
	}
	abs := func(p string) string { a, _ := filepath.Abs(p); return a }
	switch cmd {
	case "version":
		v, err := release.FromGit(ctx, abs(*root))
		if err != nil {
			return err
		}
		fmt.Println(v.String())
		return nil
	case "check":
		if err := release.Publishable(abs(*dist)); err != nil {
			return err
		}
		fmt.Printf("%s may be published\n", *dist)
		return nil
	case "build":
	default:
		return fmt.Errorf("unknown command %q: use build (the default), version or check", cmd)
	}

	v, err := release.FromGit(ctx, abs(*root))
	if err != nil {
		return err
	}
	if m := os.Getenv("GHOSTWIRE_MAINTAINER"); m != "" {
		release.Maintainer = m
	}
	selected := func(t release.Target) bool {
		return (*only == "" || slices.Contains(strings.Split(*only, ","), t.Format)) &&
			(*arch == "" || slices.Contains(strings.Split(*arch, ","), t.Arch))
	}
	work, err := os.MkdirTemp("", "ghostwire-packages-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	b := &release.Build{Version: v, Root: abs(*root), Dist: abs(*dist), Work: work,
		Log: slog.New(slog.NewTextHandler(os.Stderr, nil))}
	m, err := release.Run(ctx, b, builders, selected)
	if err != nil {
		return err
	}
	fmt.Printf("ghostwire %s → %s\n", m.Version, *dist)
	for _, a := range m.Artifacts {
		fmt.Printf("  %s  (SBOM %s)\n", a.File, a.SBOM)
	}
	for _, nb := range m.NotBuilt {
		fmt.Printf("  not built: %s\n", nb)
	}
	if test, reasons := m.IsTestBuild(); test {
		fmt.Printf("TEST BUILD (not for release): %s\n", strings.Join(reasons, "; "))
	}
	return nil
}
