package inspect

import (
	"sync"
	"sync/atomic"
)

// Queue is a bounded queue of events from one producer (a proxy's event
// loop) to one consumer (the event pipeline's goroutine), without locks:
// the producer fills a slot in place and publishes it with one atomic
// store, the consumer reads it in place and frees it with another. When
// the queue is full the event is dropped and counted, so a producer never
// waits for the consumer.
type Queue struct {
	slots   []Event
	mask    uint64
	head    atomic.Uint64 // next slot the consumer reads
	tail    atomic.Uint64 // next slot the producer publishes
	resv    uint64        // slots reserved after tail, not yet published (the producer's own)
	dropped atomic.Uint64
}

// NewQueue returns a queue of at least n events (a power of two).
func NewQueue(n int) *Queue {
	size := 1
	for size < n {
		size <<= 1
	}
	return &Queue{slots: make([]Event, size), mask: uint64(size - 1)}
}

// Reserve returns the next free slot, cleared, for the producer to fill;
// Commit publishes it with the others reserved since the last Commit (the
// producer may go on changing them until then: a loop counts repeated
// events into the slot of the first). When the queue is full it counts
// dropped events (n: how many the slot would have held) and returns nil.
func (q *Queue) Reserve(n uint64) *Event {
	t := q.tail.Load() + q.resv
	if t-q.head.Load() == uint64(len(q.slots)) {
		q.dropped.Add(n)
		return nil
	}
	q.resv++
	ev := &q.slots[t&q.mask]
	*ev = Event{}
	return ev
}

// Commit publishes the slots reserved since the last Commit.
func (q *Queue) Commit() {
	q.tail.Add(q.resv)
	q.resv = 0
}

// Len is the number of events waiting.
func (q *Queue) Len() int { return int(q.tail.Load() - q.head.Load()) }

// Dropped is how many events found the queue full.
func (q *Queue) Dropped() uint64 { return q.dropped.Load() }

// drain hands every waiting event to fn, in place, then frees its slot.
func (q *Queue) drain(fn func(*Event)) int {
	h, t := q.head.Load(), q.tail.Load()
	for i := h; i != t; i++ {
		fn(&q.slots[i&q.mask])
		q.head.Store(i + 1)
	}
	return int(t - h)
}

// Feed is the events of one proxy on their way to the event pipeline: one
// Queue per event loop, one shared queue for the goroutines that are not
// loops (accepting connections), and a signal that events are waiting.
// The proxy produces; one consumer (events.Pipeline.Follow) drains.
type Feed struct {
	loops   []*Queue
	sharedM sync.Mutex // producers of shared only; the consumer never takes it
	shared  *Queue
	ready   chan struct{}
	done    chan struct{}
	closed  sync.Once
	drainM  sync.Mutex // one consumer at a time; producers never take it
	details func(*Event) map[string]string
}

// NewFeed returns a feed with a queue of size events for each of loops
// producers. details builds the Details of a Write event from its Data
// (nil: none); Drain calls it off the producers' goroutines.
func NewFeed(loops, size int, details func(*Event) map[string]string) *Feed {
	f := &Feed{shared: NewQueue(size), ready: make(chan struct{}, 1), done: make(chan struct{}), details: details}
	for range loops {
		f.loops = append(f.loops, NewQueue(size))
	}
	return f
}

// Queue is the queue of producer i (0 <= i < the loops given to NewFeed).
func (f *Feed) Queue(i int) *Queue { return f.loops[i] }

// Signal tells the consumer that events are waiting. It does not block,
// and costs a load when the consumer has not taken the last signal yet.
func (f *Feed) Signal() {
	select {
	case f.ready <- struct{}{}:
	default:
	}
}

// Push queues a copy of ev from any goroutine that is not one of the
// loops (they use their own Queue), and signals the consumer.
func (f *Feed) Push(ev *Event) {
	f.sharedM.Lock()
	if slot := f.shared.Reserve(1); slot != nil {
		*slot = *ev
		f.shared.Commit()
	}
	f.sharedM.Unlock()
	f.Signal()
}

// Ready receives when events may be waiting.
func (f *Feed) Ready() <-chan struct{} { return f.ready }

// Done is closed by Close: no more events will come once it is.
func (f *Feed) Done() <-chan struct{} { return f.done }

// Close says that the producers have stopped.
func (f *Feed) Close() { f.closed.Do(func() { close(f.done) }) }

// Drain hands every waiting event to fn and returns how many. fn gets the
// event in place and must not keep the pointer; a Write event's Details
// are built before (the map is fn's to keep).
func (f *Feed) Drain(fn func(*Event)) int {
	f.drainM.Lock()
	defer f.drainM.Unlock()
	each := func(ev *Event) {
		if (ev.Kind == Write || ev.Kind == Opened) && f.details != nil {
			ev.Details = f.details(ev)
		}
		fn(ev)
		ev.Details = nil
	}
	n := f.shared.drain(each)
	for _, q := range f.loops {
		n += q.drain(each)
	}
	return n
}

// Follow drains the feed into fn as events come, until the feed closes
// (after a last drain): the consumer's loop.
func (f *Feed) Follow(fn func(*Event)) {
	for {
		select {
		case <-f.ready:
			f.Drain(fn)
		case <-f.done:
			f.Drain(fn)
			return
		}
	}
}

// Dropped is how many events found their queue full since the feed was
// made.
func (f *Feed) Dropped() uint64 {
	n := f.shared.Dropped()
	for _, q := range f.loops {
		n += q.Dropped()
	}
	return n
}
