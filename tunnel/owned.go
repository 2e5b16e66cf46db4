package tunnel

import "sync"

// owned names the OS interfaces of the tunnels running in this process
// (on macOS the utunN the kernel picked), so that the daemon's network
// watcher can tell our own changes from the network's.
var owned = struct {
	sync.Mutex
	names map[string]bool
}{names: map[string]bool{}}

func ownInterface(name string) {
	owned.Lock()
	defer owned.Unlock()
	owned.names[name] = true
}

func disownInterface(name string) {
	owned.Lock()
	defer owned.Unlock()
	delete(owned.names, name)
}

// OwnsInterface reports whether name is the interface of a tunnel that is
// up in this process (its changes are ours, not the network's).
func OwnsInterface(name string) bool {
	owned.Lock()
	defer owned.Unlock()
	return owned.names[name]
}
