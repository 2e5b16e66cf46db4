package config

import (
	"fmt"
	"os"
	"regexp"
	"strings"
)

// OrdinalPlaceholder in --kube-service stands for this replica's ordinal, so
// that one setting shared by every pod of a StatefulSet names each pod's own
// Service (ghostwire/ghostwire-wireguard-{ordinal} → ...-wireguard-1 in pod
// ghostwire-server-1).
const OrdinalPlaceholder = "{ordinal}"

var (
	dnsLabel   = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)
	ordinalEnd = regexp.MustCompile(`-([0-9]+)$`)
)

// Replica is this replica's name: --replica-name, else the host name (a
// pod's host name is its name). It must be a DNS label: it names a record.
func (c *Config) Replica() (string, error) {
	name := c.ReplicaName
	if name == "" {
		h, err := os.Hostname()
		if err != nil {
			return "", fmt.Errorf("--replica-name is empty and the host name is unknown (%v): set --replica-name", err)
		}
		name = strings.ToLower(h)
	}
	if !dnsLabel.MatchString(name) {
		return "", fmt.Errorf("the replica name %q (--replica-name, else the host name) must be a DNS label: lower-case letters, digits and '-', at most 63", name)
	}
	return name, nil
}

// ReplicaOrdinal is the number at the end of the replica's name
// (ghostwire-server-2 → "2"), as a StatefulSet names its pods.
func (c *Config) ReplicaOrdinal() (string, error) {
	name, err := c.Replica()
	if err != nil {
		return "", err
	}
	m := ordinalEnd.FindStringSubmatch(name)
	if m == nil {
		return "", fmt.Errorf("%s needs a replica name ending in -<number> (a StatefulSet pod's name), not %q", OrdinalPlaceholder, name)
	}
	return m[1], nil
}

// KubeServiceName is --kube-service with {ordinal} filled in.
func (c *Config) KubeServiceName() (string, error) {
	if !strings.Contains(c.KubeService, OrdinalPlaceholder) {
		return c.KubeService, nil
	}
	n, err := c.ReplicaOrdinal()
	if err != nil {
		return "", err
	}
	return strings.ReplaceAll(c.KubeService, OrdinalPlaceholder, n), nil
}
