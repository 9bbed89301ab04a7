package proxy

import (
	"fmt"
	"os"
	"runtime"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// How a loop waits (the package documentation says why): it polls its
// epoll instance with a timeout of 0 while it has work, sleeps parked in
// the runtime's netpoller, where its epoll file descriptor is registered,
// when it has none, and after yieldAfter of work without sleeping it
// yields: it makes its epoll instance ready and parks, so that it runs
// again only after a pass of the scheduler and of the runtime's netpoll.

// yieldAfter is how long a loop works without passing through the
// scheduler before it yields.
var yieldAfter = 500 * time.Microsecond

// waiter is the runtime side of a loop.
type waiter struct {
	l        *loop
	file     *os.File // the epoll instance in the runtime's netpoller
	raw      syscall.RawConn
	ready    func(uintptr) bool // made once, so that waiting does not allocate
	n        int                // events found by ready
	calls    int                // calls of ready in this wait
	force    bool               // the next call of ready parks: a yield
	deadline time.Time          // read deadline set on file
	awake    time.Time          // when the loop last passed through the scheduler
	busy     bool               // the last wait found events
	parked   atomic.Bool        // for tests: the loop sleeps
	yields   atomic.Uint64      // for tests: yields so far
}

func (w *waiter) init(l *loop) error {
	w.l = l
	// An epoll instance is pollable: os.NewFile registers a non-blocking
	// one with the runtime's netpoller, which then reports it readable
	// while it holds events.
	if err := unix.SetNonblock(l.epfd, true); err != nil {
		return fmt.Errorf("epoll fd: %w", err)
	}
	w.file = os.NewFile(uintptr(l.epfd), "proxy-loop-epoll")
	var err error
	if w.raw, err = w.file.SyscallConn(); err != nil {
		w.file.Close()
		return fmt.Errorf("epoll fd: %w", err)
	}
	// RawConn.Read calls ready, and parks the goroutine until the
	// netpoller reports the epoll instance readable whenever ready
	// returns false. The first call comes after the runtime forgot any
	// earlier readiness, so ready always polls before the loop parks:
	// an event that came in between is never lost.
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
	return nil
}

// close closes the epoll instance.
func (w *waiter) close() { w.file.Close() }

// wait returns the number of ready events in l.events, sleeping in the
// runtime until there are some or the next deadline passes.
func (l *loop) wait() int {
	w := &l.waiter
	switch {
	case len(l.again) > 0 || len(l.againDevs) > 0:
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
	if !l.next.IsZero() && !l.next.After(l.now) {
		w.busy = false
		return 0 // a deadline is due (one that passes in between ends the park at once)
	}
	n := w.park()
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
		w.awake = time.Now() // it did park: the scheduler ran
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
	if !w.deadline.IsZero() {
		// An expired deadline would return before parking.
		w.deadline = time.Time{}
		_ = w.file.SetReadDeadline(time.Time{})
	}
	_ = w.raw.Read(w.ready)
	// The netpoll that woke the loop made the program's other ready
	// goroutines runnable too, on this P's run queue, and the loop may
	// have been the first it picked: let them run before it goes on.
	runtime.Gosched()
	w.force = false
	w.awake = time.Now()
	w.yields.Add(1)
	return w.n
}
