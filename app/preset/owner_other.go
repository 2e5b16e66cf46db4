//go:build !unix

package preset

import "os"

// adminOnly: file presets are a Unix source; elsewhere the OS's own ACLs on
// the policy store apply.
func adminOnly(os.FileInfo) error { return nil }
