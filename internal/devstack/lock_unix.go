//go:build unix

package devstack

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// lockDataDir takes an exclusive lock on dir/soar.lock so that two stacks
// never share one data directory: two Temporal servers on one SQLite file, or
// two JetStream servers on one store, corrupt it. The kernel drops the lock
// when the process dies, so a crash leaves no stale lock behind.
func lockDataDir(dir string) (*os.File, error) {
	path := filepath.Join(dir, "soar.lock")
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open lock file: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		_ = f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("data dir %s is in use by another soar dev; stop it or use --data-dir", dir)
		}
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	return f, nil
}
