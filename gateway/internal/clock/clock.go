// Package clock gives the daemon its time: the current time, timers that
// run a function after a delay (the confirm deadline) and tickers (the
// drift watcher). Real is the system clock; Fake is a clock that tests
// move forward by hand, so a deadline can pass without anyone sleeping.
package clock

import (
	"sort"
	"sync"
	"time"
)

// Clock is the time source of the daemon.
type Clock interface {
	Now() time.Time
	// AfterFunc calls f in its own goroutine (Real) or from Advance
	// (Fake) once d has passed.
	AfterFunc(d time.Duration, f func()) Timer
	// NewTicker delivers the time on C every d; d must be positive.
	NewTicker(d time.Duration) Ticker
}

// Timer is a pending AfterFunc call.
type Timer interface {
	// Stop cancels the call; false when it already ran or was stopped.
	Stop() bool
}

// Ticker delivers ticks until stopped.
type Ticker interface {
	C() <-chan time.Time
	Stop()
}

// Real returns the system clock.
func Real() Clock { return realClock{} }

type realClock struct{}

func (realClock) Now() time.Time                            { return time.Now() }
func (realClock) AfterFunc(d time.Duration, f func()) Timer { return time.AfterFunc(d, f) }
func (realClock) NewTicker(d time.Duration) Ticker          { return realTicker{time.NewTicker(d)} }

type realTicker struct{ t *time.Ticker }

func (r realTicker) C() <-chan time.Time { return r.t.C }
func (r realTicker) Stop()               { r.t.Stop() }

// Fake is a clock that only moves when Advance is called. Timers due
// during an Advance run in that call, in the order of their deadlines;
// tickers due get one tick each (a tick is dropped when the previous one
// was not received yet, like time.Ticker).
type Fake struct {
	mu      sync.Mutex
	now     time.Time
	seq     int
	waiters []*fakeWaiter
}

type fakeWaiter struct {
	clock  *Fake
	seq    int
	at     time.Time
	every  time.Duration // tickers only
	f      func()        // timers only
	c      chan time.Time
	active bool
}

// NewFake returns a fake clock set to start.
func NewFake(start time.Time) *Fake { return &Fake{now: start} }

// Now returns the fake time.
func (c *Fake) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// AfterFunc schedules f to run during the Advance that reaches now+d.
func (c *Fake) AfterFunc(d time.Duration, f func()) Timer {
	return c.add(&fakeWaiter{at: c.Now().Add(d), f: f})
}

// NewTicker returns a ticker that ticks during Advance.
func (c *Fake) NewTicker(d time.Duration) Ticker {
	if d <= 0 {
		panic("clock: non-positive interval for NewTicker")
	}
	return fakeTicker{c.add(&fakeWaiter{at: c.Now().Add(d), every: d, c: make(chan time.Time, 1)})}
}

type fakeTicker struct{ w *fakeWaiter }

func (t fakeTicker) C() <-chan time.Time { return t.w.c }
func (t fakeTicker) Stop()               { t.w.Stop() }

func (c *Fake) add(w *fakeWaiter) *fakeWaiter {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seq++
	w.clock, w.seq, w.active = c, c.seq, true
	c.waiters = append(c.waiters, w)
	return w
}

// Pending reports how many timers and tickers are active.
func (c *Fake) Pending() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, w := range c.waiters {
		if w.active {
			n++
		}
	}
	return n
}

// Advance moves the clock forward by d, running the timers and ticking
// the tickers that fall due on the way. Timer functions run without the
// clock's lock held, so they may use the clock.
func (c *Fake) Advance(d time.Duration) {
	c.mu.Lock()
	end := c.now.Add(d)
	c.mu.Unlock()
	for {
		c.mu.Lock()
		w := c.nextDueLocked(end)
		if w == nil {
			c.now = end
			c.mu.Unlock()
			return
		}
		c.now = w.at
		if w.every > 0 {
			w.at = w.at.Add(w.every)
			select {
			case w.c <- c.now:
			default:
			}
			c.mu.Unlock()
			continue
		}
		w.active = false
		c.mu.Unlock()
		w.f()
	}
}

func (c *Fake) nextDueLocked(end time.Time) *fakeWaiter {
	live := c.waiters[:0]
	for _, w := range c.waiters {
		if w.active {
			live = append(live, w)
		}
	}
	c.waiters = live
	sort.SliceStable(c.waiters, func(i, j int) bool {
		if !c.waiters[i].at.Equal(c.waiters[j].at) {
			return c.waiters[i].at.Before(c.waiters[j].at)
		}
		return c.waiters[i].seq < c.waiters[j].seq
	})
	if len(c.waiters) > 0 && !c.waiters[0].at.After(end) {
		return c.waiters[0]
	}
	return nil
}

// Stop cancels a timer or ticker.
func (w *fakeWaiter) Stop() bool {
	w.clock.mu.Lock()
	defer w.clock.mu.Unlock()
	was := w.active
	w.active = false
	return was
}
