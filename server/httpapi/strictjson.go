package httpapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
)

// checkMembers makes "strict" strict where encoding/json is lenient: it
// refuses a member named twice in any object (encoding/json keeps the last
// one) and, in the top-level object, a name that is not exactly one of the
// fields of v (encoding/json matches names without regard to case). b has
// already decoded into v without error.
func checkMembers(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	return walkMembers(dec, fieldNames(v))
}

// walkMembers reads one value; names, when not nil, are the only member
// names its object may have.
func walkMembers(dec *json.Decoder, names []string) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	switch tok {
	case json.Delim('{'):
		seen := map[string]bool{}
		for dec.More() {
			t, err := dec.Token()
			if err != nil {
				return err
			}
			name, _ := t.(string)
			if seen[name] {
				return fmt.Errorf("field %q appears twice: send each field once", name)
			}
			seen[name] = true
			if names != nil && !slices.Contains(names, name) {
				if i := slices.IndexFunc(names, func(n string) bool { return strings.EqualFold(n, name) }); i >= 0 {
					return fmt.Errorf("unknown field %q: field names are case-sensitive (did you mean %q?)", name, names[i])
				}
				return fmt.Errorf("unknown field %q: this server accepts only the fields in docs/api.md (update ghostwire?)", name)
			}
			if err := walkMembers(dec, nil); err != nil {
				return err
			}
		}
		_, err = dec.Token()
	case json.Delim('['):
		for dec.More() {
			if err := walkMembers(dec, nil); err != nil {
				return err
			}
		}
		_, err = dec.Token()
	}
	return err
}

// fieldNames are the JSON names of the struct v points to (nil for any
// other type: its members are not checked).
func fieldNames(v any) []string {
	t := reflect.TypeOf(v)
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nil || t.Kind() != reflect.Struct {
		return nil
	}
	names := []string{}
	for f := range t.Fields() {
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		switch {
		case name == "-" || !f.IsExported():
		case name == "":
			names = append(names, f.Name)
		default:
			names = append(names, name)
		}
	}
	return names
}
