package notify

import "strings"

// appleScript is the osascript program that shows n on macOS. Strings are
// quoted for AppleScript so no text from the daemon can end the literal.
func appleScript(n Notification) string {
	return "display notification " + asQuote(n.Body) + " with title " + asQuote(AppName) + " subtitle " + asQuote(n.Title)
}

func asQuote(s string) string {
	s = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\r", " ", "\n", " ").Replace(s)
	return `"` + s + `"`
}
