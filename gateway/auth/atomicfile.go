package auth

import (
	"os"
	"path/filepath"

	"github.com/zonegate/zonegate/gateway/internal/atomicfile"
)

// writeFileAtomic replaces path with data (mode 0600) so that path is
// always either the old or the new content; a missing directory is
// created (0700). beforeRename is the test hook of atomicfile.Options.
func writeFileAtomic(path string, data []byte, beforeRename func(tmp string) error) error {
	dir := filepath.Dir(path)
	if _, err := os.Stat(dir); os.IsNotExist(err) {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return err
		}
		// Make the new directory's entry durable too.
		if err := atomicfile.SyncDir(filepath.Dir(filepath.Clean(dir))); err != nil {
			return err
		}
	}
	return atomicfile.Write(path, data, 0o600, atomicfile.Options{BeforeRename: beforeRename})
}

// removeStaleTemps removes temporary files left next to path by a crash
// during writeFileAtomic.
func removeStaleTemps(path string) { atomicfile.RemoveStale(path) }
