//go:build !unix

package devstack

import (
	"fmt"
	"os"
	"path/filepath"
)

// lockDataDir only creates dir/soar.lock on this platform: there is no
// portable advisory lock in the standard library. Running two stacks on one
// data directory corrupts it.
func lockDataDir(dir string) (*os.File, error) {
	f, err := os.OpenFile(filepath.Join(dir, "soar.lock"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open lock file: %w", err)
	}
	return f, nil
}
