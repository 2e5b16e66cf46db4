package notify

import "testing"

func TestAppleScriptQuoting(t *testing.T) {
	got := appleScript(Notification{Title: `Connected to "prod"`, Body: "a\\b\n\" & do shell script \"rm -rf ~\" & \""})
	want := `display notification "a\\b \" & do shell script \"rm -rf ~\" & \"" with title "Ghostwire" subtitle "Connected to \"prod\""`
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}
