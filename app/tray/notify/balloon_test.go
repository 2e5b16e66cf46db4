package notify

import (
	"strings"
	"testing"
	"unicode/utf16"
)

func TestBalloonText(t *testing.T) {
	title, body := balloonText(Notification{Title: "Connected to prod", Body: "10.0.0.0/16 and cluster.local go through the tunnel"})
	if title != "Connected to prod" || body != "10.0.0.0/16 and cluster.local go through the tunnel" {
		t.Fatalf("short texts changed: %q %q", title, body)
	}
	if _, body := balloonText(Notification{Title: "x"}); body == "" {
		t.Fatal("an empty body would remove the balloon")
	}
	long := strings.Repeat("é", 40) + strings.Repeat("🙂", 20) // 40 + 40 UTF-16 units
	title, body = balloonText(Notification{Title: long, Body: strings.Repeat(long, 4)})
	for _, tc := range []struct {
		s   string
		max int
	}{{title, balloonTitleMax}, {body, balloonTextMax}} {
		u := utf16.Encode([]rune(tc.s))
		if len(u) > tc.max || !strings.HasSuffix(tc.s, "…") || !strings.HasPrefix(long, strings.TrimSuffix(tc.s, "…")[:10]) {
			t.Errorf("%d units (max %d): %q", len(u), tc.max, tc.s)
		}
	}
	// A surrogate pair is never split.
	if got := fitUTF16("ab🙂cd", 4); got != "ab…" {
		t.Fatalf("fit: %q", got)
	}
}
