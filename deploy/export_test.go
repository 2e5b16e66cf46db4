package deploy

// Variants is every variant the policy checks, for the external tests
// (apiserver_test.go) that need a package importing this one.
var Variants = variants
