package tunnel

// Optional netOps extensions, for what one OS needs and the others do not;
// the tunnel checks for them by type assertion.
type (
	// preflighter checks, before Up changes anything, what creating a
	// tunnel needs (Windows: Administrator rights and wintun.dll).
	preflighter interface{ preflight() error }
	// closePreparer empties the interface before the device closes it
	// (Windows does not take well to an interface removed with routes on it).
	closePreparer interface{ beforeClose(name string) error }
)
