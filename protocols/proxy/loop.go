package proxy

import (
	"fmt"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/zonegate/zonegate/protocols/inspect"
)

// loop is one event loop: an epoll instance over the client and device
// sockets of its connections, served by one goroutine that owns all their
// state (none of it needs a lock). Other goroutines (accept, dial,
// CloseConns, Shutdown) hand it work with post. How a loop waits is in
// wait.go.
type loop struct {
	e      *Engine
	epfd   int
	efd    int // eventfd in epfd: post and yield wake the loop through it
	events []unix.EpollEvent
	fds    []handler // by file descriptor
	conns  map[*conn]struct{}
	pools  map[*pool]struct{}
	shared map[poolKey]*pool // the shared pools, by device
	now    time.Time         // when the current batch of events arrived
	next   time.Time         // earliest deadline of any connection (zero: none)
	quit   bool
	done   chan struct{}

	// q takes the loop's events for the pipeline; the events of a round
	// are published together at its end (pending), and an event equal to
	// one of them is counted into it (repeat).
	q        *inspect.Queue
	pending  [pendingMax]*inspect.Event
	npending int

	// tasks is a lock-free stack of posted functions (newest first);
	// tasksClosed once the loop has stopped.
	tasks    atomic.Pointer[task]
	signaled atomic.Bool // an eventfd write is pending

	// Connections to serve again without a new epoll event: their sockets
	// had more than a round's read budget.
	again, spareAgain []*conn
	againDevs         []*device

	waiter
}

// handler is what owns a file descriptor registered with a loop.
type handler interface {
	handle(events uint32)
}

// task is a posted function.
type task struct {
	fn   func()
	next *task
}

// tasksClosed marks the task stack of a stopped loop.
var tasksClosed = &task{}

func newLoop(e *Engine, q *inspect.Queue) (*loop, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("epoll_create1: %w", err)
	}
	efd, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		unix.Close(epfd)
		return nil, fmt.Errorf("eventfd: %w", err)
	}
	l := &loop{e: e, epfd: epfd, efd: efd, events: make([]unix.EpollEvent, 128), conns: map[*conn]struct{}{},
		pools: map[*pool]struct{}{}, shared: map[poolKey]*pool{}, done: make(chan struct{}), q: q}
	if err := l.ctl(unix.EPOLL_CTL_ADD, efd, unix.EPOLLIN); err != nil {
		unix.Close(efd)
		unix.Close(epfd)
		return nil, err
	}
	if err := l.waiter.init(l); err != nil {
		unix.Close(efd)
		unix.Close(epfd)
		return nil, err
	}
	return l, nil
}

// post runs fn on the loop's goroutine; false if the loop has stopped
// (fn does not run). It takes no lock.
func (l *loop) post(fn func()) bool {
	t := &task{fn: fn}
	for {
		head := l.tasks.Load()
		if head == tasksClosed {
			return false
		}
		t.next = head
		if l.tasks.CompareAndSwap(head, t) {
			break
		}
	}
	if !l.signaled.Swap(true) {
		l.wake()
	}
	return true
}

// wake makes the loop's epoll ready through its eventfd.
func (l *loop) wake() {
	one := [8]byte{1}
	for {
		if _, err := unix.Write(l.efd, one[:]); err != unix.EINTR {
			break
		}
	}
}

// runTasks runs what post queued, oldest first.
func (l *loop) runTasks() {
	var b [8]byte
	_, _ = unix.Read(l.efd, b[:])
	l.signaled.Store(false)
	l.runList(l.tasks.Swap(nil))
}

func (l *loop) runList(t *task) {
	var rev *task
	for t != nil && t != tasksClosed {
		next := t.next
		t.next = rev
		rev = t
		t = next
	}
	for ; rev != nil; rev = rev.next {
		rev.fn()
	}
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
		for c := range l.conns {
			c.close(false)
		}
		for p := range l.pools {
			p.closeAll()
		}
		// Tasks posted while the loop stopped (none when the engine stops
		// in order): their connections are closed, so they only release
		// resources.
		l.runList(l.tasks.Swap(tasksClosed))
		unix.Close(l.efd)
		l.waiter.close()
		l.publishEvents()
		close(l.done)
	}()
	l.now = time.Now()
	l.awake = l.now
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
		for i := 0; i < len(l.againDevs); i++ {
			l.againDevs[i].readAgain()
			l.againDevs[i] = nil
		}
		l.againDevs = l.againDevs[:0]
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
		l.publishEvents()
	}
}

// pendingMax bounds the events of a round that later events may be
// counted into.
const pendingMax = 16

// event reserves a slot in the loop's event queue for an event (nil when
// the queue is full: the event is dropped and counted). The caller fills
// it before the round ends; publishEvents publishes it.
func (l *loop) event(kind inspect.EventKind, reason string) *inspect.Event {
	if l.npending == pendingMax {
		l.publishEvents()
	}
	ev := l.q.Reserve(1)
	if ev == nil {
		return nil
	}
	ev.Protocol, ev.Kind, ev.Reason = l.e.proto.Name, kind, reason
	ev.Time = l.e.now(l.now)
	l.pending[l.npending] = ev
	l.npending++
	return ev
}

// repeat counts an event into an equal one of this round, if there is
// one: a flood of denied requests from one source costs a count per
// request, not a queue slot.
func (l *loop) repeat(kind inspect.EventKind, reason string, monitor bool, c *conn) bool {
	for _, ev := range l.pending[:l.npending] {
		if ev.Kind == kind && ev.Reason == reason && ev.Monitor == monitor && ev.Source.Addr() == c.src.Addr() &&
			ev.Destination == c.route.Upstream && ev.Conduit == c.route.Conduit && ev.Role == c.route.Identity.Role {
			if ev.Count == 0 {
				ev.Count = 1
			}
			ev.Count++
			return true
		}
	}
	return false
}

// publishEvents publishes the round's events and tells the event pipeline.
func (l *loop) publishEvents() {
	if l.npending == 0 {
		return
	}
	l.q.Commit()
	clear(l.pending[:l.npending])
	l.npending = 0
	l.e.feed.Signal()
}

// poll is epoll_wait without a timeout: it cannot block, so it is a raw
// system call.
func (l *loop) poll() int {
	n, _, errno := syscall.RawSyscall6(unix.SYS_EPOLL_PWAIT, uintptr(l.epfd), uintptrOf(l.events), uintptr(len(l.events)), 0, 0, 0)
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
	var next time.Time
	due := func(t time.Time) bool {
		if !l.now.Before(t) {
			return true
		}
		if next.IsZero() || t.Before(next) {
			next = t
		}
		return false
	}
	for p := range l.pools {
		p.expire(due)
	}
	if !next.IsZero() {
		l.arm(next)
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
func (l *loop) register(fd int, h handler) error {
	if err := l.ctl(unix.EPOLL_CTL_ADD, fd, socketEvents); err != nil {
		return err
	}
	for fd >= len(l.fds) {
		l.fds = append(l.fds, nil)
	}
	l.fds[fd] = h
	return nil
}

// closeFD removes fd from the loop and closes it.
func (l *loop) closeFD(fd int) {
	_ = l.ctl(unix.EPOLL_CTL_DEL, fd, 0)
	if fd < len(l.fds) {
		l.fds[fd] = nil
	}
	closeFD(fd)
}
