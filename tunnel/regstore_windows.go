package tunnel

import (
	"errors"
	"fmt"
	"unsafe"

	"golang.org/x/sys/windows"
	"golang.org/x/sys/windows/registry"
)

// hklm is regStore over the real HKEY_LOCAL_MACHINE, in its 64-bit view
// (where Dnscache reads the NRPT) whatever this build's architecture.
type hklm struct{}

const view = registry.WOW64_64KEY

const regOptionVolatile = 1 // REG_OPTION_VOLATILE

var procRegCreateKeyExW = windows.NewLazySystemDLL("advapi32.dll").NewProc("RegCreateKeyExW")

func regErr(err error) error {
	if errors.Is(err, registry.ErrNotExist) {
		return errRegNotFound
	}
	return err
}

func (hklm) subKeys(path string) ([]string, error) {
	k, err := registry.OpenKey(registry.LOCAL_MACHINE, path, registry.ENUMERATE_SUB_KEYS|view)
	if err != nil {
		return nil, regErr(err)
	}
	defer k.Close()
	return k.ReadSubKeyNames(-1)
}

func (hklm) values(path string) (regValues, error) {
	k, err := registry.OpenKey(registry.LOCAL_MACHINE, path, registry.QUERY_VALUE|view)
	if err != nil {
		return nil, regErr(err)
	}
	defer k.Close()
	names, err := k.ReadValueNames(-1)
	if err != nil {
		return nil, err
	}
	v := regValues{}
	for _, n := range names {
		_, typ, err := k.GetValue(n, nil)
		if err != nil {
			continue
		}
		switch typ {
		case registry.SZ, registry.EXPAND_SZ:
			if s, _, err := k.GetStringValue(n); err == nil {
				v[n] = s
			}
		case registry.MULTI_SZ:
			if ss, _, err := k.GetStringsValue(n); err == nil {
				v[n] = ss
			}
		case registry.DWORD:
			if d, _, err := k.GetIntegerValue(n); err == nil {
				v[n] = uint32(d)
			}
		}
	}
	return v, nil
}

func (hklm) createKey(path string) error {
	k, _, err := registry.CreateKey(registry.LOCAL_MACHINE, path, registry.QUERY_VALUE|view)
	if err != nil {
		return err
	}
	return k.Close()
}

// setVolatile creates the key with REG_OPTION_VOLATILE: Windows keeps it in
// memory only, so a power loss or a crash followed by a reboot cannot leave
// a rule pointing at a tunnel that is gone.
func (hklm) setVolatile(path string, v regValues) error {
	p, err := windows.UTF16PtrFromString(path)
	if err != nil {
		return err
	}
	var h windows.Handle
	var disp uint32
	// x/sys's registry.CreateKey passes no options; the volatile flag needs the call itself.
	r, _, _ := procRegCreateKeyExW.Call(uintptr(windows.HKEY_LOCAL_MACHINE), uintptr(unsafe.Pointer(p)), 0, 0,
		regOptionVolatile, windows.KEY_SET_VALUE|windows.KEY_QUERY_VALUE|windows.KEY_WOW64_64KEY, 0,
		uintptr(unsafe.Pointer(&h)), uintptr(unsafe.Pointer(&disp)))
	if r != 0 {
		return windows.Errno(r)
	}
	k := registry.Key(h)
	defer k.Close()
	for name, val := range v {
		switch x := val.(type) {
		case string:
			err = k.SetStringValue(name, x)
		case []string:
			err = k.SetStringsValue(name, x)
		case uint32:
			err = k.SetDWordValue(name, x)
		default:
			err = fmt.Errorf("value %s has unsupported type %T", name, val)
		}
		if err != nil {
			return fmt.Errorf("cannot set %s: %w", name, err)
		}
	}
	return nil
}

func (hklm) deleteKey(path string) error {
	err := registry.DeleteKey(registry.LOCAL_MACHINE, path)
	if errors.Is(err, registry.ErrNotExist) {
		return nil
	}
	return err
}
