package proxy

import (
	"fmt"
	"os"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// How a loop waits, on the Go runtime's terms.
//
// A loop polls its epoll instance with a timeout of 0 (a raw system call:
// it cannot block) while it has work. When it has none it sleeps in the
// Go runtime: its epoll file descriptor is registered with the runtime's
// netpoller (os.NewFile), and the loop parks on it through RawConn.Read,
// whose callback polls the epoll instance again before the goroutine
// parks (so an event that came in between is never lost). An epoll
// instance is readable while it has events, so the runtime wakes the loop
// as it wakes any goroutine waiting for a socket; a connection's deadline
// is the file's read deadline (a runtime timer). A parked loop holds no
// P and no thread, costs nothing while idle, and garbage collection never
// has to interrupt it.
//
// A loop that always has events never parks, and with one P (a gateway
// with one CPU, or a proxy pinned to one) the runtime polls the network
// for every other goroutine (the management API, the audit writer) only
// when its run queues are empty: runtime.findRunnable calls netpoll only
// then, and otherwise only sysmon does, every 10 ms. So a busy loop
// yields after yieldAfter of work: it makes its own epoll instance ready
// (a write to its eventfd) and parks. The scheduler then runs every
// runnable goroutine, and before the loop can run again its netpoll must
// have reported the loop's epoll instance, together with every other
// ready socket of the program. No timing of the scheduler or sysmon is
// assumed: the yield is deterministic.

// yieldAfter is how long a loop works without passing through the
// scheduler before it yields.
var yieldAfter = 500 * time.Microsecond

// waitMode selects the sleep of a prototype under measurement:
// waitPark sleeps in the netpoller, waitSyscall in epoll_pwait through
// syscall.Syscall6 (which hands the P back to the runtime).
const (
	waitPark = iota
	waitSyscall
)

var waitMode = waitPark

// waiter is the runtime side of a loop.
type waiter struct {
	l        *loop
	file     *os.File // the epoll instance in the runtime's netpoller
	raw      syscall.RawConn
	yfile    *os.File // waitSyscall: an eventfd in the netpoller for yields
	yraw     syscall.RawConn
	yfd      int
	ready    func(uintptr) bool // made once, so that waiting does not allocate
	yready   func(uintptr) bool
	n        int       // events found by ready
	calls    int       // calls of ready in this wait
	force    bool      // the next call of ready parks: a yield
	deadline time.Time // read deadline set on file
	awake    time.Time // when the loop last passed through the scheduler
	busy     bool      // the last wait found events
	parked   atomic.Bool   // for tests: the loop sleeps
	yields   atomic.Uint64 // for tests and benchmarks: yields so far
}

func (w *waiter) init(l *loop) error {
	w.l = l
	w.yfd = -1
	if err := unix.SetNonblock(l.epfd, true); err != nil {
		return fmt.Errorf("epoll fd: %w", err)
	}
	w.file = os.NewFile(uintptr(l.epfd), "proxy-loop-epoll")
	var err error
	if w.raw, err = w.file.SyscallConn(); err != nil {
		w.file.Close()
		return fmt.Errorf("epoll fd: %w", err)
	}
	w.ready = func(uintptr) bool {
		w.calls++
		if w.force {
			// A yield: make the epoll instance ready, so that the
			// runtime's next netpoll wakes the loop, and park.
			w.force = false
			l.wake()
			return false
		}
		w.n = l.poll()
		return w.n > 0
	}
	if waitMode == waitSyscall {
		if w.yfd, err = unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC); err != nil {
			return fmt.Errorf("eventfd: %w", err)
		}
		w.yfile = os.NewFile(uintptr(w.yfd), "proxy-loop-yield")
		if w.yraw, err = w.yfile.SyscallConn(); err != nil {
			return err
		}
		w.yready = func(fd uintptr) bool {
			w.calls++
			if w.force {
				w.force = false
				one := [8]byte{1}
				_, _ = unix.Write(w.yfd, one[:])
				return false
			}
			var b [8]byte
			_, _ = unix.Read(w.yfd, b[:])
			return true
		}
	}
	return nil
}

// close closes the epoll instance.
func (w *waiter) close() {
	w.file.Close()
	if w.yfile != nil {
		w.yfile.Close()
	}
}

// wait returns the number of ready events in l.events, sleeping in the
// runtime until there are some or the next deadline passes.
func (l *loop) wait() int {
	w := &l.waiter
	switch {
	case len(l.again) > 0:
		return l.poll() // work waiting: do not sleep
	case l.now.Sub(w.awake) >= yieldAfter:
		return w.yield()
	case w.busy:
		// The last round had events: this one likely has too, and a
		// poll is cheaper than the way through the runtime.
		if n := l.poll(); n > 0 {
			return n
		}
	}
	if !l.next.IsZero() && !l.next.After(time.Now()) {
		w.busy = false
		return 0 // a deadline is due
	}
	var n int
	if waitMode == waitSyscall {
		n = w.sleepSyscall()
	} else {
		n = w.park()
	}
	w.busy = n > 0
	return n
}

// park sleeps in the runtime's netpoller until the epoll instance has
// events or the next deadline passes.
func (w *waiter) park() int {
	l := w.l
	if !l.next.Equal(w.deadline) {
		w.deadline = l.next
		_ = w.file.SetReadDeadline(l.next)
	}
	w.n, w.calls = 0, 0
	w.parked.Store(true)
	err := w.raw.Read(w.ready)
	w.parked.Store(false)
	if w.calls > 1 {
		w.awake = time.Now()
	}
	if err != nil {
		return 0 // the deadline: the loop looks at the connections' deadlines
	}
	return w.n
}

// yield passes through the scheduler: every runnable goroutine runs, and
// the runtime polls the network, before the loop goes on. It returns the
// events found on the way back.
func (w *waiter) yield() int {
	w.force, w.calls, w.n = true, 0, 0
	if waitMode == waitSyscall {
		_ = w.yraw.Read(w.yready)
		w.n = w.l.poll()
	} else {
		if !w.deadline.IsZero() {
			// An expired deadline would return before parking.
			w.deadline = time.Time{}
			_ = w.file.SetReadDeadline(time.Time{})
		}
		_ = w.raw.Read(w.ready)
	}
	w.force = false
	w.awake = time.Now()
	w.yields.Add(1)
	return w.n
}

// sleepSyscall sleeps in epoll_pwait through syscall.Syscall6, which
// tells the runtime that the goroutine is in a system call.
func (w *waiter) sleepSyscall() int {
	l := w.l
	ms := -1
	if !l.next.IsZero() {
		ms = int((time.Until(l.next) + time.Millisecond - 1) / time.Millisecond)
		ms = max(ms, 0)
	}
	w.parked.Store(true)
	n, _, errno := syscall.Syscall6(unix.SYS_EPOLL_PWAIT, uintptr(l.epfd), uintptrOf(l.events), uintptr(len(l.events)), uintptr(ms), 0, 0)
	w.parked.Store(false)
	if errno != 0 {
		return 0
	}
	return int(n)
}
