// Command bundle builds Ghostwire.app (and, with -pkgroot, the installer's
// payload root) from a built ghostwire program. It runs from packaging/ (its
// own module), so the defaults name the repository's folders from there:
//
//	cd packaging && go run ./macos/bundle -exe ../bin/ghostwire -out ../dist
//	cd packaging && go run ./macos/bundle -exe ../bin/ghostwire -pkgroot ../dist/pkgroot
package main

import (
	"flag"
	"fmt"
	"log"

	"github.com/ghostwire/ghostwire/packaging/macos"
)

func main() {
	var o macos.BundleOptions
	flag.StringVar(&o.Executable, "exe", "../bin/ghostwire", "the built ghostwire program (darwin, cgo for the menu-bar app)")
	flag.StringVar(&o.Icon, "icon", "../assets/app/Ghostwire.icns", "the application icon")
	flag.StringVar(&o.Version, "version", "0.0.0", "the release version")
	out := flag.String("out", "../dist", "folder to write Ghostwire.app into")
	pkgroot := flag.String("pkgroot", "", "also lay out the installer's payload root in this folder")
	flag.Parse()
	app, err := macos.Bundle(*out, o)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("wrote", app)
	if *pkgroot != "" {
		if err := macos.PkgRoot(*pkgroot, o); err != nil {
			log.Fatal(err)
		}
		fmt.Println("wrote the installer payload root", *pkgroot)
	}
}
