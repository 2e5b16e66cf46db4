// Package localapi is the narrow protocol between the privileged ghostwire daemon
// and its unprivileged front ends (the CLI and the tray): JSON over HTTP on a local
// socket. The daemon implements Backend and serves it with Server; front ends use
// Client. Front ends never decide state: they render what Status says.
package localapi
