package audit

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"testing"
)

func TestLineIsJSONWithFields(t *testing.T) {
	var buf bytes.Buffer
	a := New(slog.New(slog.NewJSONHandler(&buf, nil)))
	a.Log(context.Background(), Event{Decision: "deny", Action: "register", Subject: "iss|u", Name: "u@x", Key: "k=", Reason: "cap", Status: 429})
	var m map[string]any
	if err := json.Unmarshal(buf.Bytes(), &m); err != nil {
		t.Fatalf("%v: %s", err, buf.String())
	}
	for k, v := range map[string]any{"msg": "audit", "log": "audit", "decision": "deny", "action": "register", "user": "iss|u", "user_name": "u@x", "key": "k=", "reason": "cap", "status": 429.0, "level": "WARN"} {
		if m[k] != v {
			t.Errorf("%s = %v, want %v", k, m[k], v)
		}
	}
	if _, ok := m["address"]; ok {
		t.Error("empty field written")
	}
}

func TestAdminRemovalNamesAdminAndOwner(t *testing.T) {
	var buf bytes.Buffer
	a := New(slog.New(slog.NewJSONHandler(&buf, nil)))
	a.Log(context.Background(), Event{Decision: "remove", Action: "admin_delete", Subject: "iss|admin", Name: "root", Owner: "iss|u", OwnerName: "u@x", Reason: "admin"})
	var m map[string]any
	if err := json.Unmarshal(buf.Bytes(), &m); err != nil {
		t.Fatal(err)
	}
	if m["user"] != "iss|admin" || m["owner"] != "iss|u" || m["owner_name"] != "u@x" || m["level"] != "INFO" {
		t.Fatalf("%s", buf.String())
	}
}
