package tunnel

import (
	"sync"
	"time"
)

// owned names the OS interfaces of the tunnels running in this process
// (on macOS the utunN the kernel picked), so that the daemon's network
// watcher can tell our own changes from the network's. A name stays ours
// for a few seconds after its tunnel closes: the kernel's messages about
// its removal come after.
var owned = struct {
	sync.Mutex
	names map[string]int // name → tunnels holding it (a new one may reuse a closing one's name)
}{names: map[string]int{}}

const disownDelay = 5 * time.Second

func ownInterface(name string) {
	owned.Lock()
	defer owned.Unlock()
	owned.names[name]++
}

func disownInterface(name string) {
	time.AfterFunc(disownDelay, func() {
		owned.Lock()
		defer owned.Unlock()
		if owned.names[name]--; owned.names[name] <= 0 {
			delete(owned.names, name)
		}
	})
}

// OwnsInterface reports whether name is the interface of a tunnel that is
// up in this process (its changes are ours, not the network's).
func OwnsInterface(name string) bool {
	owned.Lock()
	defer owned.Unlock()
	return owned.names[name] > 0
}
