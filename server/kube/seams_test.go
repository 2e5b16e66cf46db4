package kube

import "github.com/ghostwire/ghostwire/server/httpapi"

// The server's seams (owned by server/httpapi) are what these types are for;
// if either interface changes, this stops compiling.
var (
	_ httpapi.EndpointSource = (*EndpointWatcher)(nil)
	_ httpapi.DomainSource   = (*SearchDomainWatcher)(nil)
)
