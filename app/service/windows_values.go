package service

import "time"

// How the daemon is registered with the Windows service manager: one place
// for `ghostwire daemon install` and for the MSI (its ServiceInstall,
// ServiceDependency and recovery settings should be generated from, or
// checked against, these values).
const (
	// WindowsDisplayName is what services.msc shows.
	WindowsDisplayName = "Ghostwire VPN"
	// WindowsDescription is the service's description.
	WindowsDescription = "Keeps ghostwire's WireGuard tunnels into your Kubernetes clusters: signs in, holds the " +
		"keys in memory only, sets the cluster's routes and DNS, and reconnects after sleep and network changes."
	// WindowsAccount: the tunnel adapter, routes and NRPT rules need LocalSystem.
	WindowsAccount = "LocalSystem"
	// WindowsStartAutomatic: the service starts at boot.
	WindowsStartAutomatic = true
	// WindowsEventSource is the Event Log source (Windows Logs › Application).
	WindowsEventSource = Name
	// WindowsRecoveryReset is how long without a failure before the
	// recovery counts start again from the first action.
	WindowsRecoveryReset = time.Hour
)

// WindowsArgs follow the executable in the service's command line.
var WindowsArgs = []string{"daemon"}

// WindowsDependencies must run before the daemon: the network store and
// TCP/IP (wireguard-windows' tunnel service depends on the same two), and
// the DNS Client, which reads the NRPT rules.
var WindowsDependencies = []string{"Nsi", "TcpIp", "Dnscache"}

// WindowsRestartDelays are the recovery actions: restart after each delay,
// the last one repeating (the service manager counts failures until
// WindowsRecoveryReset passes without one).
var WindowsRestartDelays = []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 16 * time.Second, 32 * time.Second, 64 * time.Second}
