//go:build darwin && cgo

package tray

// The file that exports to C may only declare in its preamble (cgo's rule),
// so the Objective-C handler lives in links_darwin.go.

import "C"

import "log/slog"

var linkLog = slog.Default()

//export ghostwireOpenURL
func ghostwireOpenURL(url *C.char) {
	link := C.GoString(url)
	// On AppKit's main thread: the dialog and the connection run in their own process.
	go handleLink(link, linkLog)
}
