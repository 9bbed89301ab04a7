package proxy

import (
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Client and device sockets are registered edge-triggered for reading
// and writing (readEvents say there is something to read), so a socket
// costs epoll nothing between its events and no epoll_ctl call ever
// follows the registration.
const (
	socketEvents = unix.EPOLLIN | unix.EPOLLOUT | unix.EPOLLRDHUP | unix.EPOLLET
	readEvents   = unix.EPOLLIN | unix.EPOLLRDHUP | unix.EPOLLERR | unix.EPOLLHUP
	hupEvents    = unix.EPOLLRDHUP | unix.EPOLLHUP | unix.EPOLLERR
)

// readBudget bounds the read system calls on one socket per round, so a
// client streaming requests that are answered at once does not keep the
// loop from the others.
const readBudget = 4

// errWouldBlock: the socket has nothing more for this round.
var errWouldBlock = errors.New("proxy: would block")

// sock is the read state of a non-blocking, edge-triggered socket. ready
// says it may have bytes: set by an epoll event, cleared by a read that
// does not fill the buffer (a stream socket then has nothing left) or
// returns EAGAIN. At most budget reads per round.
type sock struct {
	fd     int
	ready  bool
	hup    bool // the peer closed (or failed): read until the end, whatever a read returned
	budget int
	got    bool // a read returned data
}

// event notes an epoll event of the socket.
func (s *sock) event(ev uint32) {
	if ev&readEvents != 0 {
		s.ready = true
	}
	if ev&hupEvents != 0 {
		s.hup = true
	}
}

// read reads once into b: errWouldBlock when there is nothing (or no
// budget left), io.EOF at the end of the stream.
func (s *sock) read(b []byte) (int, error) {
	if !s.ready || s.budget <= 0 || len(b) == 0 {
		return 0, errWouldBlock
	}
	s.budget--
	n, err := rawRead(s.fd, b)
	switch {
	case err == unix.EAGAIN || err == unix.EINTR:
		s.ready = err == unix.EINTR
		return 0, errWouldBlock
	case err != nil:
		return 0, err
	case n == 0:
		return 0, io.EOF
	}
	if n < len(b) && !s.hup {
		s.ready = false
	}
	s.got = true
	return n, nil
}

// rawRead and rawWrite are recv(2) and send(2) on non-blocking sockets.
// They cannot block, so they are raw system calls: the scheduler need not
// be told (through syscall.Syscall the runtime would mark the goroutine's
// P as in a system call, and its monitor thread would keep checking it).
// recvfrom and sendto rather than read and write skip the file layer;
// MSG_NOSIGNAL turns a write to a closed connection into EPIPE without a
// signal.
func rawRead(fd int, b []byte) (int, error) {
	n, _, errno := syscall.RawSyscall6(unix.SYS_RECVFROM, uintptr(fd), uintptrOf(b), uintptr(len(b)), 0, 0, 0)
	if errno != 0 {
		return 0, errno
	}
	return int(n), nil
}

func rawWrite(fd int, b []byte) (int, error) {
	n, _, errno := syscall.RawSyscall6(unix.SYS_SENDTO, uintptr(fd), uintptrOf(b), uintptr(len(b)), unix.MSG_NOSIGNAL, 0, 0)
	if errno != 0 {
		return 0, errno
	}
	return int(n), nil
}

// uintptrOf is the address of a slice's first element.
func uintptrOf[T any](b []T) uintptr { return uintptr(unsafe.Pointer(unsafe.SliceData(b))) }

// takeFD takes the socket out of a net.Conn: a duplicate of its file
// descriptor, non-blocking, after which the net.Conn is closed.
func takeFD(nc net.Conn) (int, error) {
	defer nc.Close()
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return -1, fmt.Errorf("%T is not a socket: the proxy serves socket connections only", nc)
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return -1, err
	}
	fd := -1
	var derr error
	if err := rc.Control(func(s uintptr) { fd, derr = unix.FcntlInt(s, unix.F_DUPFD_CLOEXEC, 0) }); err != nil {
		return -1, err
	}
	if derr != nil {
		return -1, fmt.Errorf("duplicate socket: %w", derr)
	}
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return -1, err
	}
	return fd, nil
}

// closeFD closes a socket the engine owns.
func closeFD(fd int) {
	if fd >= 0 {
		unix.Close(fd)
	}
}

// setReset makes closing fd send RST instead of FIN.
func setReset(fd int) {
	_ = unix.SetsockoptLinger(fd, unix.SOL_SOCKET, unix.SO_LINGER, &unix.Linger{Onoff: 1, Linger: 0})
}

// Errors of the non-blocking calls that only mean "not now".
var (
	errAgain error = unix.EAGAIN
	errIntr  error = unix.EINTR
)
