//go:build unix

package instance

import "testing"

func TestInstanceLock(t *testing.T) {
	home := t.TempDir() // the lock goes in the user's cache folder
	t.Setenv("HOME", home)
	t.Setenv("XDG_CACHE_HOME", home+"/.cache")
	testInstance(t)
}
