// Package atomicfile replaces files so that a crash at any moment leaves
// either the old or the new content: write a temporary file in the same
// directory, fsync it, rename it over the target, fsync the directory.
package atomicfile

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// tempPrefix starts the names of temporary files; RemoveStale finds them.
const tempPrefix = ".tmp-"

// Options tune Write.
type Options struct {
	// BeforeRename, if set, is called with the temporary file's name once
	// it is written and synced; an error aborts the write. Tests use it to
	// simulate a crash at the worst moment.
	BeforeRename func(tmp string) error
}

// Write replaces path with data, with the given permission bits.
func Write(path string, data []byte, mode os.FileMode, opt Options) (err error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, TempName(base)+"*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
			err = fmt.Errorf("write %s: %w", path, err)
		}
	}()
	if err = f.Chmod(mode); err != nil {
		return err
	}
	if _, err = f.Write(data); err != nil {
		return err
	}
	if err = f.Sync(); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	if opt.BeforeRename != nil {
		if err = opt.BeforeRename(tmp); err != nil {
			return err
		}
	}
	if err = os.Rename(tmp, path); err != nil {
		return err
	}
	return SyncDir(dir)
}

// TempName is the prefix of the temporary files Write uses for a file
// named base.
func TempName(base string) string { return tempPrefix + base + "-" }

// SyncDir makes the entries of a directory durable.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("fsync directory %s: %w", dir, err)
	}
	return nil
}

// RemoveStale removes temporary files a crash during Write left next to
// path. They are never path itself: the rename did not happen.
func RemoveStale(path string) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), TempName(base)) && e.Type().IsRegular() {
			os.Remove(filepath.Join(dir, e.Name()))
		}
	}
}
