/*
 * bcryptprimitives.dll for Wine 8: Go 1.22+ programs call ProcessPrng from it
 * at start (runtime/os_windows.go) and abort when it is missing, which it is
 * in Wine before 9.0. This stand-in fills the buffer from advapi32's
 * RtlGenRandom (SystemFunction036). Only `make test-windows` uses it, in a
 * private WINEPREFIX; it is never shipped.
 */
#include <windows.h>

BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len)
{
	while (len > 0) {
		ULONG n = len > 0x10000000 ? 0x10000000 : (ULONG)len;
		if (!SystemFunction036(data, n))
			return FALSE;
		data += n;
		len -= n;
	}
	return TRUE;
}
