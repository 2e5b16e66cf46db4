package denylist

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

const (
	entraSub = "https://login.microsoftonline.com/2f4a1b6c-0d3e-4f5a-8b9c-0123456789ab/v2.0#2f4a1b6c-0d3e-4f5a-8b9c-0123456789ab/9d3c1e55-1111-4a2b-8c3d-aaaaaaaaaaaa"
	oid      = "9d3c1e55-1111-4a2b-8c3d-aaaaaaaaaaaa"
)

func TestParse(t *testing.T) {
	got, err := Parse(strings.NewReader("# people who left\n\n  " + strings.ToUpper(oid) + "   # Mallory, ticket 42\n" + entraSub + "\r\nhttps://idp#user-7\t# comment\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{strings.ToUpper(oid), entraSub, "https://idp#user-7"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("got %q, want %q", got, want)
	}
	for name, bad := range map[string]string{
		"two entries":   "alice bob\n",
		"control":       "ali\x01ce\n",
		"invalid utf-8": "\xff\xfe\n",
		"too large":     strings.Repeat("a", MaxBytes+1),
	} {
		if _, err := Parse(strings.NewReader(bad)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := Parse(strings.NewReader("ok\nalice bob\n")); err == nil || !strings.Contains(err.Error(), "line 2") {
		t.Errorf("error does not name the line: %v", err)
	}
}

func TestDenied(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "deny-users")
	os.WriteFile(file, []byte(strings.ToUpper(oid)+"\nhttps://idp#user-7\nsub-only\n"), 0o644)
	l, err := New(file, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		subject, oid string
		want         bool
	}{
		{entraSub, oid, true},                 // by oid, any case
		{"https://idp#user-7", "", true},      // by full subject
		{"https://other#sub-only", "", true},  // by sub
		{"https://idp#user-8", "", false},     // someone else
		{"https://idp#user-77", "", false},    // no prefix matching
		{"https://idp#x", "other-oid", false}, // other oid
		// Other providers: exact, never by an oid (issue 10).
		{"https://idp#USER-7", "", false},                 // sub values are case-sensitive
		{"https://other#SUB-ONLY", "", false},             //
		{"https://idp#" + oid, "", false},                 // the entry is an oid in upper case
		{"https://idp#" + strings.ToUpper(oid), "", true}, // ... and so an exact sub
	} {
		if _, got := l.Denied(c.subject, c.oid); got != c.want {
			t.Errorf("Denied(%q, %q) = %v", c.subject, c.oid, got)
		}
	}
	var nilList *List
	if _, d := nilList.Denied(entraSub, oid); d {
		t.Fatal("nil list denies")
	}
	// A broken edit keeps the current list; a removed file empties it.
	os.WriteFile(file, []byte("two words\n"), 0o644)
	if _, err := l.Reload(); err == nil || l.Len() != 3 {
		t.Fatalf("broken file: %v, %d entries", err, l.Len())
	}
	os.Remove(file)
	if ch, err := l.Reload(); err != nil || !ch || l.Len() != 0 {
		t.Fatalf("missing file: %v %v %d", ch, err, l.Len())
	}
	if _, err := New(filepath.Join(dir, "none"), nil); err != nil {
		t.Fatalf("missing file at start: %v", err)
	}
	os.WriteFile(file, []byte("a b\n"), 0o644)
	if _, err := New(file, nil); err == nil {
		t.Fatal("malformed file accepted at start")
	}
}

// The list follows the file as a ConfigMap volume updates it, and calls back
// once per change.
func TestWatch(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "deny-users")
	l, err := New(file, nil)
	if err != nil {
		t.Fatal(err)
	}
	var calls atomic.Int32
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); l.Watch(ctx, time.Hour, func() { calls.Add(1) }) }()
	time.Sleep(50 * time.Millisecond)
	os.WriteFile(file+".tmp", []byte(oid+"\n"), 0o644)
	os.Rename(file+".tmp", file)
	deadline := time.Now().Add(5 * time.Second)
	for calls.Load() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("change not picked up")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if _, d := l.Denied("https://idp#x", oid); !d {
		t.Fatal("not denied after reload")
	}
	cancel()
	<-done
}
