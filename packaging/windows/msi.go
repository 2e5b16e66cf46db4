package windows

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Tools the MSI needs on the build machine (Debian/Ubuntu packages wixl,
// msitools and osslsigncode; `make deps` installs them).
var tools = []string{"wixl", "msibuild", "msiinfo", "osslsigncode"}

// CheckTools says which tool is missing, and how to get it.
func CheckTools() error {
	var missing []string
	for _, t := range tools {
		if _, err := exec.LookPath(t); err != nil {
			missing = append(missing, t)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("the MSI needs %s: install the Debian/Ubuntu packages wixl, msitools and osslsigncode (`make deps`)", strings.Join(missing, ", "))
	}
	return nil
}

// buildMSI runs wixl on wxs in dir (which holds the files it names) and
// completes the tables wixl cannot write (postProcess).
func buildMSI(ctx context.Context, dir string, wxs []byte, out string) error {
	src := filepath.Join(dir, "ghostwire.wxs")
	if err := os.WriteFile(src, wxs, 0o644); err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, "wixl", "--arch", "x64", "-o", out, src)
	cmd.Dir = dir
	if o, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("wixl: %v\n%s", err, o)
	}
	return postProcess(ctx, out)
}

// upgradeAttributes: migrate feature states, and both version bounds
// inclusive, so a build of the same MAJOR.MINOR.PATCH replaces the
// installed one (every commit's MSI upgrades the last one).
const upgradeAttributes = 1 | 256 | 512

// SecureProperties are passed by Windows Installer to the installing
// service also when a standard user's install is elevated by policy.
var SecureProperties = []string{"WIX_DOWNGRADE_DETECTED", "WIX_UPGRADE_DETECTED", PropServer, PropProfile, PropInteractive}

// postProcess completes what wixl 0.101 cannot say in WiX source:
//   - the Preset component is installed only with SERVERURL (wixl turns a
//     Component's Condition into a launch condition instead);
//   - the public properties are secure (wixl has no Secure attribute);
//   - same-version upgrades (MajorUpgrade's AllowSameVersionUpgrades):
//     the Upgrade table's attributes are part of its key, so wixl's row is
//     replaced by the same one with upgradeAttributes.
func postProcess(ctx context.Context, msi string) error {
	if err := msibuild(ctx, msi, "UPDATE `Component` SET `Condition` = '"+PropServer+"' WHERE `Component` = 'Preset'"); err != nil {
		return err
	}
	if err := msibuild(ctx, msi, "UPDATE `Property` SET `Value` = '"+strings.Join(SecureProperties, ";")+"' WHERE `Property` = 'SecureCustomProperties'"); err != nil {
		return err
	}
	rows, err := exportTable(ctx, msi, "Upgrade")
	if err != nil {
		return err
	}
	var upgradeCode, versionMax string
	for _, r := range rows {
		if len(r) == 7 && r[6] == "WIX_UPGRADE_DETECTED" {
			upgradeCode, versionMax = r[0], r[2]
		}
	}
	if versionMax == "" {
		return fmt.Errorf("wixl wrote no upgrade row: %v", rows)
	}
	if err := msibuild(ctx, msi, "DELETE FROM `Upgrade` WHERE `ActionProperty` = 'WIX_UPGRADE_DETECTED'"); err != nil {
		return err
	}
	return msibuild(ctx, msi, fmt.Sprintf("INSERT INTO `Upgrade` (`UpgradeCode`, `VersionMax`, `Attributes`, `ActionProperty`) "+
		"VALUES ('%s', '%s', %d, 'WIX_UPGRADE_DETECTED')", upgradeCode, versionMax, upgradeAttributes))
}

// msibuild runs one SQL statement on msi (msitools' msibuild takes one -q).
func msibuild(ctx context.Context, msi, sql string) error {
	o, err := exec.CommandContext(ctx, "msibuild", msi, "-q", sql).CombinedOutput()
	if err != nil || strings.Contains(string(o), "failed") {
		return fmt.Errorf("msibuild %q: %v\n%s", sql, err, o)
	}
	return nil
}

// exportTable reads a table with `msiinfo export`: its rows, each a list
// of tab-separated columns (the three header lines left out).
func exportTable(ctx context.Context, msi, table string) ([][]string, error) {
	o, err := exec.CommandContext(ctx, "msiinfo", "export", msi, table).Output()
	if err != nil {
		return nil, fmt.Errorf("msiinfo export %s %s: %w", msi, table, err)
	}
	lines := strings.Split(strings.ReplaceAll(string(o), "\r\n", "\n"), "\n")
	var rows [][]string
	for i, l := range lines {
		if i < 3 || l == "" {
			continue
		}
		rows = append(rows, strings.Split(l, "\t"))
	}
	return rows, nil
}
