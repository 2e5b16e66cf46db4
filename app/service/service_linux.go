package service

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"os/signal"
	"os/user"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/ghostwire/ghostwire/internal/atomicfile"
)

// On Linux the service is a systemd unit. `ghostwire daemon install` writes
// SystemdUnit (the same text the .deb and .rpm ship) to /etc/systemd/system,
// creates the ghostwire group the unit names, and enables and starts it. When a
// package already installed the unit, install only enables and starts that one,
// and uninstall leaves it to the package manager.

// Install registers and starts the daemon as a system service.
func Install(s Spec) error { return hostSystemd().install(s) }

// Uninstall stops the service and removes its registration.
func Uninstall() error { return hostSystemd().uninstall() }

// Run runs fn until SIGINT or SIGTERM (or ctx's end).
func Run(ctx context.Context, fn Runner) error {
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	return fn(ctx)
}

// systemd is the host's service manager, with every path under root and every
// command behind a function so the logic runs in tests against a scratch root.
type systemd struct {
	root string // "/" on the host
	// systemctl runs `systemctl args...`.
	systemctl func(args ...string) error
	// groupadd creates the system group name under root.
	groupadd func(root, name string) error
	// lookupGroup reports whether the group exists under root.
	lookupGroup func(root, name string) bool
	euid        int
}

func hostSystemd() systemd {
	return systemd{
		root:        "/",
		systemctl:   runSystemctl,
		groupadd:    runGroupadd,
		lookupGroup: groupExists,
		euid:        os.Geteuid(),
	}
}

// adminUnit is where install writes the unit; vendorUnits are where packages put theirs.
func (s systemd) adminUnit() string { return filepath.Join(s.root, "etc/systemd/system", UnitFile) }

func (s systemd) vendorUnit() string {
	for _, d := range []string{"usr/lib/systemd/system", "lib/systemd/system"} {
		p := filepath.Join(s.root, d, UnitFile)
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return ""
}

// running reports whether systemd is the init system (sd_booted(3)'s test).
func (s systemd) running() bool {
	fi, err := os.Stat(filepath.Join(s.root, "run/systemd/system"))
	return err == nil && fi.IsDir()
}

func (s systemd) preflight() error {
	if s.euid != 0 {
		return errors.New("installing a system service needs root: run `sudo ghostwire daemon install`")
	}
	if !s.running() {
		return errors.New("this system does not run systemd, so there is no service to register: start `ghostwire daemon` as root from your init system instead")
	}
	return nil
}

func (s systemd) install(spec Spec) error {
	if err := s.preflight(); err != nil {
		return err
	}
	unit, err := SystemdUnit(spec, installedByCommand)
	if err != nil {
		return err
	}
	if !s.lookupGroup(s.root, Group) {
		if err := s.groupadd(s.root, Group); err != nil {
			return fmt.Errorf("cannot create the %q group the service runs with: %w", Group, err)
		}
	}
	if v := s.vendorUnit(); v != "" {
		// The package's unit is the one to run; an older copy of ours would shadow it.
		if own, _ := s.ownsAdminUnit(); own {
			if err := os.Remove(s.adminUnit()); err != nil {
				return fmt.Errorf("cannot remove the older %s: %w", s.adminUnit(), err)
			}
		}
	} else if err := writeAtomic(s.adminUnit(), unit, 0o644); err != nil {
		return err
	}
	if err := s.systemctl("daemon-reload"); err != nil {
		return err
	}
	return s.systemctl("enable", "--now", UnitFile)
}

func (s systemd) uninstall() error {
	if err := s.preflight(); err != nil {
		return err
	}
	own, err := s.ownsAdminUnit()
	if err != nil {
		return err
	}
	if !own {
		if v := s.vendorUnit(); v != "" {
			return fmt.Errorf("the ghostwire service was installed by a package (%s): remove the package instead (`sudo apt remove ghostwire` or `sudo dnf remove ghostwire`), or stop it with `sudo systemctl disable --now %s`", v, UnitFile)
		}
		if _, err := os.Stat(s.adminUnit()); err == nil {
			return fmt.Errorf("%s was not written by `ghostwire daemon install`, so it is left alone: remove it yourself if you want it gone", s.adminUnit())
		}
		return errors.New("the ghostwire service is not installed")
	}
	// Stopping makes the daemon disconnect every profile and restore DNS first.
	if err := s.systemctl("disable", "--now", UnitFile); err != nil {
		return err
	}
	if err := os.Remove(s.adminUnit()); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("cannot remove %s: %w", s.adminUnit(), err)
	}
	return s.systemctl("daemon-reload")
}

// ownsAdminUnit reports whether /etc/systemd/system/ghostwire.service is one
// that install wrote.
func (s systemd) ownsAdminUnit() (bool, error) {
	b, err := os.ReadFile(s.adminUnit())
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("cannot read %s: %w", s.adminUnit(), err)
	}
	first, _, _ := strings.Cut(string(b), "\n")
	return first == "# "+installedByCommand, nil
}

func writeAtomic(path, content string, mode os.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("cannot create %s: %w", filepath.Dir(path), err)
	}
	if err := atomicfile.Write(path, []byte(content), mode, nil); err != nil {
		return fmt.Errorf("cannot write %s: %w", path, err)
	}
	return nil
}

func runSystemctl(args ...string) error {
	out, err := exec.Command("systemctl", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("systemctl %s failed: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// runGroupadd creates a system group with shadow's groupadd (on every
// distribution), under root when it is not "/".
func runGroupadd(root, name string) error {
	args := []string{"--system"}
	if root != "/" {
		args = append(args, "--prefix", root)
	}
	out, err := exec.Command("groupadd", append(args, name)...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("groupadd %s: %v: %s", name, err, strings.TrimSpace(string(out)))
	}
	return nil
}

func groupExists(root, name string) bool {
	if root == "/" {
		_, err := user.LookupGroup(name)
		return err == nil
	}
	b, err := os.ReadFile(filepath.Join(root, "etc/group"))
	if err != nil {
		return false
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, name+":") {
			return true
		}
	}
	return false
}

// LogDirs are the folders holding the daemon's logs: none on Linux, where
// the journal keeps them.
func LogDirs() []string { return nil }
