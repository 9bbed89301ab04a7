package modbusproxy

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The proxy's data path is a few event loops over epoll instead of
// goroutines per connection: the cost of a proxied request is then its
// system calls (one read and one write on each side, one epoll_wait shared
// by every socket that became ready at the same time) rather than four
// goroutine wake-ups through the Go scheduler and netpoller. A loop sleeps
// in its own epoll_pwait, so waking it is that call returning (procs.go
// says how it keeps the runtime out of the way). Each loop owns
// its connections, client and device sides alike: all their state is
// touched by the loop's goroutine only, so none of it needs a lock. Other
// goroutines (accept, dial, Shutdown, CloseConns) hand work to a loop with
// post, which wakes it through an eventfd.

// handler is what owns a file descriptor registered with a loop.
type handler interface {
	handle(events uint32)
}

// loop is one event loop.
type loop struct {
	p      *Proxy
	epfd   int
	efd    int // eventfd: post wakes the loop through it
	events []unix.EpollEvent
	fds    []handler // by file descriptor
	conns  map[*conn]struct{}
	now    time.Time // when the current batch of events arrived
	next   time.Time // earliest deadline of any connection (zero: none)
	quit   bool
	done   chan struct{}

	// An idle loop parks in the Go runtime instead (see park): parkFD is
	// an epoll instance the runtime's netpoller watches, holding epfd
	// only while the loop is parked, so that a busy loop's events do not
	// wake the runtime as well.
	parkFD       int
	parkEv       unix.EpollEvent // epfd's registration in parkFD
	parkFile     *os.File
	parkRaw      syscall.RawConn
	parkReady    func(uintptr) bool // polls epfd; made once, so parking does not allocate
	parkN        int                // events found by parkReady
	parkDeadline time.Time          // read deadline set on parkFile
	parked       atomic.Bool        // for tests: the loop is parked in the runtime

	// Scratch buffers of the connection being served: bytes for its
	// client and for its device, written out in one system call each.
	cw, uw []byte

	// Connections to serve again without a new epoll event: their sockets
	// had more than a round's read budget.
	again, spareAgain []*conn

	mu       sync.Mutex
	tasks    []func()
	spare    []func()
	signaled bool // an eventfd write is pending
	stopped  bool
}

func newLoop(p *Proxy) (*loop, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("epoll_create1: %w", err)
	}
	efd, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		unix.Close(epfd)
		return nil, fmt.Errorf("eventfd: %w", err)
	}
	l := &loop{p: p, epfd: epfd, efd: efd, events: make([]unix.EpollEvent, 128), conns: map[*conn]struct{}{},
		done: make(chan struct{}), cw: make([]byte, 0, 4096), uw: make([]byte, 0, 4096)}
	l.parkFD = -1
	fail := func(err error) (*loop, error) {
		unix.Close(efd)
		unix.Close(epfd)
		switch {
		case l.parkFile != nil:
			l.parkFile.Close()
		case l.parkFD >= 0:
			unix.Close(l.parkFD)
		}
		return nil, err
	}
	if err := l.ctl(unix.EPOLL_CTL_ADD, efd, unix.EPOLLIN); err != nil {
		return fail(err)
	}
	if l.parkFD, err = unix.EpollCreate1(unix.EPOLL_CLOEXEC); err != nil {
		return fail(fmt.Errorf("epoll_create1: %w", err))
	}
	if err := unix.SetNonblock(l.parkFD, true); err != nil {
		return fail(fmt.Errorf("epoll fd: %w", err))
	}
	l.parkFile = os.NewFile(uintptr(l.parkFD), "modbus-proxy-park")
	if l.parkRaw, err = l.parkFile.SyscallConn(); err != nil {
		return fail(fmt.Errorf("epoll fd: %w", err))
	}
	l.parkReady = func(uintptr) bool {
		l.parkN = l.poll()
		return l.parkN > 0
	}
	return l, nil
}

// post runs fn on the loop's goroutine; false if the loop has stopped
// (fn does not run).
func (l *loop) post(fn func()) bool {
	l.mu.Lock()
	if l.stopped {
		l.mu.Unlock()
		return false
	}
	l.tasks = append(l.tasks, fn)
	wake := !l.signaled
	l.signaled = true
	l.mu.Unlock()
	if wake {
		one := [8]byte{1}
		for {
			if _, err := unix.Write(l.efd, one[:]); err != unix.EINTR {
				break
			}
		}
	}
	return true
}

// runTasks runs what post queued.
func (l *loop) runTasks() {
	var b [8]byte
	_, _ = unix.Read(l.efd, b[:])
	l.mu.Lock()
	tasks := l.tasks
	l.tasks, l.spare = l.spare[:0], nil
	l.signaled = false
	l.mu.Unlock()
	for i, fn := range tasks {
		fn()
		tasks[i] = nil
	}
	l.mu.Lock()
	l.spare = tasks[:0]
	l.mu.Unlock()
}

// stop ends the loop after the tasks already posted and waits for it.
func (l *loop) stop() {
	if l.post(func() { l.quit = true }) {
		<-l.done
	}
}

// run serves events until stop.
func (l *loop) run() {
	defer func() {
		l.mu.Lock()
		l.stopped = true
		late := l.tasks
		l.tasks = nil
		l.mu.Unlock()
		for c := range l.conns {
			c.close(false)
		}
		// Tasks posted after stop (none when the proxy stops in order):
		// their connections are closed, so they only release resources.
		for _, fn := range late {
			fn()
		}
		unix.Close(l.efd)
		unix.Close(l.epfd)
		l.parkFile.Close()
		close(l.done)
	}()
	for !l.quit {
		n := l.wait()
		l.now = time.Now()
		for i := range n {
			ev := &l.events[i]
			fd := int(ev.Fd)
			if fd == l.efd {
				l.runTasks()
				continue
			}
			if fd < len(l.fds) && l.fds[fd] != nil {
				l.fds[fd].handle(ev.Events)
			}
		}
		if len(l.again) > 0 {
			again := l.again
			l.again = l.spareAgain[:0]
			for i, c := range again {
				c.serveAgain()
				again[i] = nil
			}
			l.spareAgain = again[:0]
		}
		if !l.next.IsZero() && !l.now.Before(l.next) {
			l.expire()
		}
	}
}

// wait returns the number of ready events, sleeping until there are some
// or the next deadline passes.
//
// A busy loop sleeps in epoll_pwait as a raw system call: the goroutine
// keeps its P (see holdProcs), and waking up is that call returning. A
// signal of the runtime (preemption, garbage collection) ends the sleep
// with EINTR; the loop then yields, so the runtime gets the P whenever it
// asks. Such a sleep lasts at most parkAfter: a loop that saw no event for
// that long parks in the Go runtime's netpoller, where sleeping costs
// nothing (a goroutine that looks busy would be preempted by the runtime
// every 10 ms, with a signal and a thread switch each time).
func (l *loop) wait() int {
	if len(l.again) > 0 {
		return l.poll() // work waiting: do not sleep
	}
	timeout := parkAfter
	if !l.next.IsZero() {
		// l.now is when the last events arrived: at worst the loop wakes
		// the time it took to serve them late.
		timeout = min(timeout, max(l.next.Sub(l.now), 0))
	}
	ms := (timeout + time.Millisecond - 1) / time.Millisecond
	n, _, errno := unix.RawSyscall6(unix.SYS_EPOLL_PWAIT, uintptr(l.epfd), uintptr(unsafe.Pointer(&l.events[0])), uintptr(len(l.events)), uintptr(ms), 0, 0)
	switch {
	case errno != 0:
		runtime.Gosched()
		return 0
	case n > 0 || timeout < parkAfter:
		return int(n) // events, or a deadline is due
	}
	return l.park()
}

// parkAfter is how long a loop without events sleeps holding its P before
// it parks in the runtime.
var parkAfter = 2 * time.Millisecond

// park sleeps in the Go runtime's netpoller until the loop has events or
// its next deadline passes. It costs two epoll_ctl calls and the runtime's
// wake-up, which an idle loop can afford.
func (l *loop) park() int {
	l.parkEv = unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(l.epfd)}
	if err := unix.EpollCtl(l.parkFD, unix.EPOLL_CTL_ADD, l.epfd, &l.parkEv); err != nil {
		// Cannot happen with two epoll instances of our own; if it does,
		// the loop keeps sleeping in short raw sleeps.
		return 0
	}
	if !l.next.Equal(l.parkDeadline) {
		l.parkDeadline = l.next
		_ = l.parkFile.SetReadDeadline(l.next)
	}
	l.parkN = 0
	l.parked.Store(true)
	err := l.parkRaw.Read(l.parkReady)
	l.parked.Store(false)
	_ = unix.EpollCtl(l.parkFD, unix.EPOLL_CTL_DEL, l.epfd, &l.parkEv)
	if err != nil {
		return 0 // the deadline: run looks at the connections' deadlines
	}
	return l.parkN
}

// poll is epoll_wait without a timeout.
func (l *loop) poll() int {
	n, _, errno := unix.RawSyscall6(unix.SYS_EPOLL_PWAIT, uintptr(l.epfd), uintptr(unsafe.Pointer(&l.events[0])), uintptr(len(l.events)), 0, 0, 0)
	if errno != 0 {
		return 0
	}
	return int(n)
}

// arm makes the loop look at its connections' deadlines by t.
func (l *loop) arm(t time.Time) {
	if l.next.IsZero() || t.Before(l.next) {
		l.next = t
	}
}

// expire lets every connection act on its deadlines and finds the next
// one.
func (l *loop) expire() {
	l.next = time.Time{}
	for c := range l.conns {
		if t := c.expire(l.now); !t.IsZero() {
			l.arm(t)
		}
	}
}

func (l *loop) ctl(op, fd int, events uint32) error {
	ev := unix.EpollEvent{Events: events, Fd: int32(fd)}
	if err := unix.EpollCtl(l.epfd, op, fd, &ev); err != nil {
		return fmt.Errorf("epoll_ctl: %w", err)
	}
	return nil
}

// register adds fd with its handler.
func (l *loop) register(fd int, h handler, events uint32) error {
	if err := l.ctl(unix.EPOLL_CTL_ADD, fd, events); err != nil {
		return err
	}
	for fd >= len(l.fds) {
		l.fds = append(l.fds, nil)
	}
	l.fds[fd] = h
	return nil
}

// unregister removes fd and closes it.
func (l *loop) closeFD(fd int) {
	_ = l.ctl(unix.EPOLL_CTL_DEL, fd, 0)
	if fd < len(l.fds) {
		l.fds[fd] = nil
	}
	unix.Close(fd)
}

// Client and device sockets are registered edge-triggered for reading
// and writing (readEvents say there is something to read), so a socket
// costs epoll nothing between its events and no epoll_ctl call ever
// follows the registration.
const (
	socketEvents = unix.EPOLLIN | unix.EPOLLOUT | unix.EPOLLRDHUP | unix.EPOLLET
	readEvents   = unix.EPOLLIN | unix.EPOLLRDHUP | unix.EPOLLERR | unix.EPOLLHUP
)

// readBudget bounds the read system calls on one socket per round, so a
// client streaming requests that are answered at once does not keep the
// loop from the others.
const readBudget = 4

// errWouldBlock is what fdReader returns when the socket has nothing more
// for this round.
var errWouldBlock = errors.New("modbus proxy: would block")

// fdReader reads a non-blocking, edge-triggered socket for a Framer. ready
// says the socket may have bytes: set by an epoll event, cleared by a read
// that does not fill the buffer (a stream socket then has nothing left) or
// returns EAGAIN. At most budget reads per round.
type fdReader struct {
	fd     int
	ready  bool
	hup    bool // the peer closed (EPOLLRDHUP, EPOLLHUP, EPOLLERR): read until the end, whatever a read returned
	budget int
	got    bool // a read returned data
}

// event notes an epoll event of the socket.
func (r *fdReader) event(ev uint32) {
	if ev&readEvents != 0 {
		r.ready = true
	}
	if ev&(unix.EPOLLRDHUP|unix.EPOLLHUP|unix.EPOLLERR) != 0 {
		r.hup = true
	}
}

func (r *fdReader) Read(b []byte) (int, error) {
	if !r.ready || r.budget <= 0 || len(b) == 0 {
		return 0, errWouldBlock
	}
	r.budget--
	n, err := rawRead(r.fd, b)
	switch {
	case err == unix.EAGAIN || err == unix.EINTR:
		r.ready = err == unix.EINTR
		return 0, errWouldBlock
	case err != nil:
		return 0, err
	case n == 0:
		return 0, io.EOF
	}
	if n < len(b) && !r.hup {
		r.ready = false
	}
	r.got = true
	return n, nil
}

// write writes b to the non-blocking socket fd; what does not fit goes to
// *pending, to be written when the socket is writable again.
func (l *loop) write(fd int, pending *[]byte, since *time.Time, b []byte) error {
	if len(*pending) > 0 {
		*pending = append(*pending, b...)
		return nil
	}
	n, err := rawWrite(fd, b)
	if err != nil {
		if err != unix.EAGAIN && err != unix.EINTR {
			return err
		}
		n = 0
	}
	if n < len(b) {
		*pending = append(*pending, b[n:]...)
		*since = l.now
		l.arm(l.now.Add(l.p.cfg.WriteTimeout))
	}
	return nil
}

// writePending writes what write kept back.
func writePending(fd int, pending *[]byte, since *time.Time, now time.Time) error {
	n, err := rawWrite(fd, *pending)
	if err != nil {
		if err != unix.EAGAIN && err != unix.EINTR {
			return err
		}
		return nil
	}
	rest := copy(*pending, (*pending)[n:])
	*pending = (*pending)[:rest]
	*since = now
	return nil
}

// takeFD takes the socket out of a net.Conn: a duplicate of its file
// descriptor, non-blocking, after which the net.Conn is closed.
func takeFD(nc net.Conn) (int, error) {
	defer nc.Close()
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return -1, fmt.Errorf("%T is not a socket: the proxy serves TCP connections only", nc)
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

// rawRead and rawWrite are recv(2) and send(2) on non-blocking sockets,
// as raw system calls: they cannot block, so the scheduler need not be
// told. (Through syscall.Syscall the goroutine's P is marked in a system
// call, and with one P the runtime's monitor thread takes it away and
// keeps waking up every 20 µs: on a loaded proxy that cost more CPU than
// the proxying.) recvfrom and sendto rather than read and write skip the
// file layer (position lock, file notifications); MSG_NOSIGNAL turns a
// write to a closed connection into EPIPE without a signal.
func rawRead(fd int, b []byte) (int, error) {
	n, _, errno := unix.RawSyscall6(unix.SYS_RECVFROM, uintptr(fd), uintptr(unsafe.Pointer(unsafe.SliceData(b))), uintptr(len(b)), 0, 0, 0)
	if errno != 0 {
		return 0, errno
	}
	return int(n), nil
}

func rawWrite(fd int, b []byte) (int, error) {
	n, _, errno := unix.RawSyscall6(unix.SYS_SENDTO, uintptr(fd), uintptr(unsafe.Pointer(unsafe.SliceData(b))), uintptr(len(b)), unix.MSG_NOSIGNAL, 0, 0)
	if errno != 0 {
		return 0, errno
	}
	return int(n), nil
}
