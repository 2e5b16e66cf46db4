// Package winpipe is the local API's transport on Windows: a named pipe
// created with an explicit security descriptor under a name only
// Administrators and SYSTEM may create, remote clients rejected, the caller
// identified by impersonation, and a client that checks who serves the pipe
// before it says anything.
//
// The pipe uses overlapped I/O through os.NewFile (Go 1.25+ puts such handles
// on the runtime's I/O completion port), so reads and writes park no OS
// thread and deadlines work as they do for sockets.
//
// Why not a library: go-winio's listener never accepts under Wine, where
// `make test-windows` runs these tests, and wireguard-go's ipc/namedpipe
// dials anonymously (a server cannot tell who called) and does not listen
// under Wine (DESKTOP.md §2.6, §7). Overlapped handles in os.File leave
// little to write by hand.
package winpipe

// SDDL is the pipe's security descriptor: owned by Administrators; SYSTEM
// and Administrators have full access; Authenticated Users may read and
// write (0x12019b: FILE_GENERIC_READ, FILE_WRITE_DATA, FILE_WRITE_EA,
// FILE_WRITE_ATTRIBUTES) but not FILE_CREATE_PIPE_INSTANCE, so they cannot
// add a server instance of their own to our name. Who may actually use the
// daemon is decided per request from the caller's token (the daemon's
// authorizer). Low-integrity processes (sandboxed browser content) cannot
// write: the default mandatory label is Medium no-write-up.
const SDDL = "O:BAG:SYD:P(A;;GA;;;SY)(A;;GA;;;BA)(A;;0x12019b;;;AU)"
