package notify

import "unicode/utf16"

// Windows shows a notification-area balloon as a toast (Windows 10 and
// later). Its title holds at most 63 UTF-16 units and its text 255
// (NOTIFYICONDATA szInfoTitle[64], szInfo[256]); longer ones are cut at a
// character boundary with an ellipsis rather than failing. Portable, so
// tested on every OS.
const (
	balloonTitleMax = 63
	balloonTextMax  = 255
)

// balloonText fits n into a balloon's two fields.
func balloonText(n Notification) (title, body string) {
	title = fitUTF16(n.Title, balloonTitleMax)
	body = n.Body
	if body == "" {
		body = " " // an empty text removes the balloon instead of showing it
	}
	return title, fitUTF16(body, balloonTextMax)
}

// fitUTF16 cuts s to at most max UTF-16 units, ending with "…" when cut.
func fitUTF16(s string, max int) string {
	if len(utf16.Encode([]rune(s))) <= max {
		return s
	}
	n := 0
	for i, r := range s {
		w := utf16.RuneLen(r)
		if n+w > max-1 { // room for the ellipsis (one unit)
			return s[:i] + "…"
		}
		n += w
	}
	return s
}
