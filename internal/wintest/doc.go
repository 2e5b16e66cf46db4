// Package wintest holds what the Windows tests of several packages share:
// telling Wine from Windows, a temporary directory Wine can remove, and
// running code as an unelevated user. They run under Wine in
// `make test-windows` and natively on the hosted Windows runner.
package wintest
