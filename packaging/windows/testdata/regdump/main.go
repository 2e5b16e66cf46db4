// Command regdump prints the values under registry keys of
// HKEY_LOCAL_MACHINE, recursively, as JSON lines: the Wine test's one
// process for many queries (a `reg query` each would take a second).
//
//	regdump 'SOFTWARE\Classes\ghostwire' 'SYSTEM\CurrentControlSet\Services\ghostwire'
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"

	"golang.org/x/sys/windows/registry"
)

type value struct {
	Key, Name, Type, Value string
}

func main() {
	enc := json.NewEncoder(os.Stdout)
	for _, k := range os.Args[1:] {
		dump(enc, k)
	}
}

func dump(enc *json.Encoder, key string) {
	k, err := registry.OpenKey(registry.LOCAL_MACHINE, key, registry.READ|registry.WOW64_64KEY)
	if err != nil {
		return // absent: nothing printed
	}
	defer k.Close()
	_ = enc.Encode(value{Key: key, Type: "KEY"})
	names, _ := k.ReadValueNames(0)
	for _, n := range names {
		v := value{Key: key, Name: n}
		if s, typ, err := k.GetStringValue(n); err == nil {
			v.Value, v.Type = s, map[uint32]string{registry.SZ: "REG_SZ", registry.EXPAND_SZ: "REG_EXPAND_SZ"}[typ]
		} else if ss, _, err := k.GetStringsValue(n); err == nil {
			v.Value, v.Type = strings.Join(ss, `\0`), "REG_MULTI_SZ"
		} else if i, _, err := k.GetIntegerValue(n); err == nil {
			v.Value, v.Type = fmt.Sprintf("%#x", i), "REG_DWORD"
		} else if b, _, err := k.GetBinaryValue(n); err == nil {
			v.Value, v.Type = fmt.Sprintf("%x", b), "REG_BINARY"
		}
		_ = enc.Encode(v)
	}
	subs, _ := k.ReadSubKeyNames(0)
	for _, s := range subs {
		dump(enc, key+`\`+s)
	}
}
