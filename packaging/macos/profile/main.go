// Command profile writes a configuration profile (.mobileconfig) that
// presets ghostwire's cluster on the Macs it is installed on, for Jamf,
// Intune or any MDM (see packaging/README.md):
//
//	cd packaging && go run ./macos/profile -server https://vpn.corp.example -profile prod -org "Example Corp" > ghostwire-preset.mobileconfig
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/ghostwire/ghostwire/packaging/macos"
)

func main() {
	server := flag.String("server", "", "the cluster's ghostwire server (https://…)")
	name := flag.String("profile", "", "the profile's name in the menu (default: from the server's host)")
	org := flag.String("org", "", "your organisation, shown in System Settings › Profiles")
	flag.Parse()
	b, err := macos.PresetProfile(*server, *name, *org)
	if err != nil {
		fmt.Fprintln(os.Stderr, "profile:", err)
		os.Exit(2)
	}
	os.Stdout.Write(b)
}
