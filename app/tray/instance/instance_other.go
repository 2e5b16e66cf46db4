//go:build !windows && !unix

package instance

// Acquire does nothing on this OS.
func Acquire() (release func(), err error) { return func() {}, nil }

// Running is not known on this OS.
func Running() bool { return false }
