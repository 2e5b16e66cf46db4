package instance

import (
	"errors"
	"testing"
)

func testInstance(t *testing.T) {
	if Running() {
		t.Skip("a Ghostwire menu runs here: not touching it")
	}
	release, err := Acquire()
	if err != nil {
		t.Fatal(err)
	}
	if !Running() {
		t.Error("not seen as running while held")
	}
	if _, err := Acquire(); !errors.Is(err, ErrRunning) {
		t.Errorf("a second menu must be refused: %v", err)
	}
	release()
	if Running() {
		t.Error("still seen as running after release")
	}
	release2, err := Acquire()
	if err != nil {
		t.Fatalf("after release: %v", err)
	}
	release2()
}
