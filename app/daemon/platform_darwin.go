package daemon

import (
	"fmt"
	"net"
	"os"
)

// DefaultStateDir holds profiles.json and the tunnel journals.
const DefaultStateDir = "/Library/Application Support/ghostwire"

// GroupName is the group whose members may use the daemon besides the administrators.
const GroupName = "ghostwire"

// TODO(darwin): the issue of this OS replaces every function below.
var errTODO = fmt.Errorf("the ghostwire daemon is not written for darwin yet")

func checkPrivileged() error { return errTODO }

func harden() error { return errTODO }

// Listen creates the daemon's local API listener.
func Listen(path string, mode os.FileMode) (net.Listener, error) { return nil, errTODO }

func peerCred(net.Conn) (Peer, error) { return Peer{}, errTODO }

// AllowRootAndGroup decides who may use the daemon.
func AllowRootAndGroup(p Peer) error { return errTODO }
