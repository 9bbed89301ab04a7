//go:build linux

package audit

import (
	"net"
	"os"

	"golang.org/x/sys/unix"
)

// lockFile takes an exclusive, non-blocking lock on f.
func lockFile(f *os.File) error {
	return unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
}

// fsAvailable returns the bytes an unprivileged writer may still use on the
// filesystem holding dir, or -1 if unknown.
func fsAvailable(dir string) int64 {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return -1
	}
	return int64(st.Bavail) * int64(st.Bsize)
}

// isNoSpace reports whether err means the filesystem is full.
func isNoSpace(err error) bool {
	return errorsIs(err, unix.ENOSPC) || errorsIs(err, unix.EDQUOT)
}

// unackedBytes returns how many bytes written to c the peer has not yet
// acknowledged (SIOCOUTQ).
func unackedBytes(c *net.TCPConn) (int, error) {
	rc, err := c.SyscallConn()
	if err != nil {
		return 0, err
	}
	var n int
	var ierr error
	if err := rc.Control(func(fd uintptr) { n, ierr = unix.IoctlGetInt(int(fd), unix.SIOCOUTQ) }); err != nil {
		return 0, err
	}
	return n, ierr
}
