//go:build !linux

package audit

import (
	"net"
	"os"
	"syscall"
)

// lockFile is a no-op where flock is not wired up (zonegate runs on Linux).
func lockFile(f *os.File) error { return nil }

// fsAvailable is unknown off Linux.
func fsAvailable(dir string) int64 { return -1 }

func isNoSpace(err error) bool { return errorsIs(err, syscall.ENOSPC) }

// unackedBytes is unknown off Linux: written bytes count as acknowledged.
func unackedBytes(c *net.TCPConn) (int, error) { return 0, nil }
