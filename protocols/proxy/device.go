package proxy

import (
	"time"

	"golang.org/x/sys/unix"

	"github.com/zonegate/zonegate/protocols/inspect"
)

// device is a connection to a device and the table of the requests
// outstanding on it. It is an object of its own, apart from the client
// connections: each request in its table names the client it answers to
// and that client's key, and the device's keys are its own, so that
// several clients can come to share one device connection. Today every
// client connection opens its own (owner). It belongs to its owner's
// loop.
type device struct {
	l     *loop
	e     *Engine
	fd    int
	owner *conn

	rd           sock
	in           inbuf
	out          []byte // requests for the device
	outSince     time.Time
	stalled      bool
	partialSince time.Time // a device frame started and is not complete

	// slots is the table of requests sent (a power of two long), free the
	// indexes of its free slots. When the key space has room for them,
	// a request's key on the device connection names its slot (slotKeys),
	// so that finding an answer's request is one look.
	slots    []slot
	free     []int32
	slotKeys bool
	waiting  int    // slots waiting for their answer
	nextKey  uint32 // next key to try (KeySpace > 0, !slotKeys)
	seq      uint64 // order of the requests sent
}

// slot is one request sent to the device.
type slot struct {
	index    int32  // in the table
	uses     uint32 // how often the slot was taken: its key changes with every use
	state    slotState
	client   *conn
	pairing  Pairing
	key      uint32 // the client's key
	devKey   uint32 // the key on the device connection
	seq      uint64
	deadline time.Time
	rec      Record
}

type slotState uint8

const (
	slotFree slotState = iota
	// slotWaiting: sent, waiting for the answer.
	slotWaiting
	// slotExpired: answered by the engine at its deadline (ByKey only);
	// its key stays reserved so that the device's late answer is known
	// for what it is and dropped, until the slot is needed again.
	slotExpired
)

func newDevice(owner *conn, fd int) *device {
	e := owner.e
	n := 1
	for n < 2*e.cfg.MaxOutstanding { // room for expired requests beside the waiting ones
		n <<= 1
	}
	d := &device{l: owner.l, e: e, fd: fd, owner: owner, in: newInbuf(e.framing.MaxAnswer),
		slots: make([]slot, n), free: make([]int32, 0, n), slotKeys: e.framing.KeySpace >= uint32(n)}
	for i := range d.slots {
		d.slots[i].index = int32(i)
	}
	d.freeAll()
	d.rd.fd = fd
	return d
}

// freeAll marks every slot free.
func (d *device) freeAll() {
	d.free = d.free[:0]
	for i := len(d.slots) - 1; i >= 0; i-- {
		d.slots[i].state = slotFree
		d.free = append(d.free, int32(i))
	}
	d.waiting = 0
}

// release frees a slot.
func (d *device) release(s *slot) {
	s.state = slotFree
	s.client = nil
	d.free = append(d.free, s.index)
}

// add records a request sent for client c with verdict v; nil when the
// client's key is outstanding already and keys are not renumbered.
func (d *device) add(c *conn, v *Verdict) *slot {
	ks := d.e.framing.KeySpace
	if v.Pairing == ByKey && ks == 0 {
		if x := d.find(v.Key); x != nil {
			if x.state == slotWaiting {
				return nil
			}
			// The key of a request that expired, used again: its late
			// answer can no longer be told from the new one's.
			d.release(x)
		}
	}
	var s *slot
	if n := len(d.free); n > 0 {
		s = &d.slots[d.free[n-1]]
		d.free = d.free[:n-1]
	} else {
		// Forget the oldest expired request (every slot that is not free
		// is: a client waits for fewer than half of them): its late
		// answer, if it ever comes, will look unsolicited.
		for i := range d.slots {
			if x := &d.slots[i]; x.state == slotExpired && (s == nil || x.seq < s.seq) {
				s = x
			}
		}
	}
	devKey := v.Key
	if v.Pairing == ByKey && ks > 0 {
		if d.slotKeys {
			devKey = (s.uses*uint32(len(d.slots)) + uint32(s.index)) % ks
		} else {
			devKey = d.allocKey(ks)
		}
	}
	timeout := v.Timeout
	if timeout <= 0 {
		timeout = d.e.cfg.ResponseTimeout
	}
	*s = slot{index: s.index, uses: s.uses + 1, state: slotWaiting, client: c, pairing: v.Pairing, key: v.Key, devKey: devKey,
		seq: d.seq, deadline: d.l.now.Add(timeout), rec: v.Record}
	d.seq++
	d.waiting++
	return s
}

// allocKey returns the next key below ks that no request in the table
// uses (a key space smaller than the table): a late answer to an expired
// request is never taken for the answer to a new one.
func (d *device) allocKey(ks uint32) uint32 {
	for {
		k := d.nextKey % ks
		d.nextKey = k + 1
		if d.find(k) == nil {
			return k
		}
	}
}

// handle implements handler for the device socket.
func (d *device) handle(ev uint32) {
	c := d.owner
	if c.closed || c.dev != d {
		return
	}
	if ev&unix.EPOLLOUT != 0 && d.stalled {
		if err := d.l.writeOut(d.fd, &d.out, &d.outSince, &d.stalled); err != nil {
			d.close(ReasonUpstreamClosed, true)
			c.settle()
			return
		}
	}
	if ev&readEvents != 0 {
		d.rd.event(ev)
		d.read()
	}
	c.settle()
}

// read takes the device's frames.
func (d *device) read() {
	d.rd.budget = readBudget
	for d.owner.dev == d {
		f, err := d.in.next(&d.rd, d.owner.sess.SplitAnswer)
		switch err {
		case nil:
			d.partialSince = time.Time{}
			d.answer(f)
			continue
		case errWouldBlock:
			// A partial frame's clock restarts with every byte of it
			// that arrives: only a frame that stops making progress
			// for FrameTimeout closes the connection.
			if d.in.buffered() > 0 && (d.partialSince.IsZero() || d.rd.got) {
				d.partialSince = d.l.now
				d.l.arm(d.l.now.Add(d.e.cfg.FrameTimeout))
			}
			d.rd.got = false
		case errFraming, errTruncated, errTooLong:
			d.malformed(ReasonMalformedFrame, d.in.framingError(err).Error())
			d.close(ReasonUpstreamClosed, true)
		default:
			d.close(ReasonUpstreamClosed, true)
		}
		return
	}
}

// answer pairs a device frame with its request and passes it on.
func (d *device) answer(f []byte) {
	c := d.owner
	r := c.sess.Answer(f)
	var s *slot
	switch r.Kind {
	case Pass:
		c.out = append(c.out, f...)
		return
	case Drop:
		d.malformed(r.Reason, "")
		d.close(ReasonUpstreamClosed, true)
		return
	case AnswerByKey:
		s = d.find(r.Key)
	case AnswerInOrder:
		s = d.oldestInOrder()
	}
	switch {
	case s == nil && d.waiting == 0:
		c.report(inspect.Failure, ReasonUnsolicited, false, nil, nil)
		return
	case s == nil:
		// An answer to no request while requests wait: the stream can no
		// longer be trusted to pair answers with requests.
		d.desync()
		return
	case s.state == slotExpired:
		c.report(inspect.Failure, ReasonLateResponse, false, &s.rec, nil)
		d.release(s)
		return
	case !c.sess.Match(f, &s.rec):
		d.desync()
		return
	}
	if ck, ok := c.sess.(AnswerChecker); ok {
		if why := ck.CheckAnswer(f, &s.rec); why != "" {
			d.badAnswer(s, why)
			return
		}
	}
	cl := s.client
	start := len(cl.out)
	cl.out = append(cl.out, f...)
	if s.pairing == ByKey && d.e.framing.KeySpace > 0 {
		d.e.codec.SetKey(cl.out[start:], s.key)
	}
	d.release(s)
	d.waiting--
	cl.n--
}

// find returns the request the device knows by key.
func (d *device) find(key uint32) *slot {
	if d.slotKeys {
		if s := &d.slots[key%uint32(len(d.slots))]; s.state != slotFree && s.pairing == ByKey && s.devKey == key {
			return s
		}
		return nil
	}
	for i := range d.slots {
		if s := &d.slots[i]; s.state != slotFree && s.pairing == ByKey && s.devKey == key {
			return s
		}
	}
	return nil
}

// oldestInOrder returns the first InOrder request still waiting.
func (d *device) oldestInOrder() *slot {
	var o *slot
	for i := range d.slots {
		if s := &d.slots[i]; s.state == slotWaiting && s.pairing == InOrder && (o == nil || s.seq < o.seq) {
			o = s
		}
	}
	return o
}

// desync closes a device connection whose answers no longer pair with
// the requests: its waiting requests are answered at once (one
// upstream_desync event for them all), and the next request connects
// again.
func (d *device) desync() {
	d.owner.report(inspect.Failure, ReasonUpstreamDesync, false, nil, nil)
	d.close(ReasonUpstreamDesync, false)
}

// badAnswer answers the request of s, whose answer the codec found bad,
// in the device's place, reports it once under why, and closes the device
// connection as desynchronised without another event.
func (d *device) badAnswer(s *slot, why string) {
	cl := s.client
	cl.answer(&s.rec, AnswerNoResponse)
	cl.report(inspect.Failure, why, false, &s.rec, nil)
	cl.n--
	d.waiting--
	d.release(s)
	d.close(ReasonUpstreamDesync, false)
}

// malformed reports a broken device stream.
func (d *device) malformed(reason, sample string) {
	c := d.owner
	if ev := d.l.event(inspect.Malformed, reason); ev != nil {
		c.fill(ev, false)
		ev.Summary.Add(sample)
	}
}

// close closes the device connection and answers its waiting requests
// with AnswerNoResponse, each reported under reason when perRequest.
func (d *device) close(reason string, perRequest bool) {
	if d.owner.dev != d {
		return
	}
	d.closeFD()
	for i := range d.slots {
		if s := &d.slots[i]; s.state == slotWaiting {
			s.client.answer(&s.rec, AnswerNoResponse)
			if perRequest {
				s.client.report(inspect.Failure, reason, false, &s.rec, nil)
			}
			s.client.n--
		}
	}
	d.freeAll()
}

// closeFD closes the socket and detaches the device from its owner; a
// client bound to its device connection (Framing.BoundDevice) closes once
// its answers are out.
func (d *device) closeFD() {
	if d.owner.dev == d {
		d.owner.dev = nil
		if d.e.framing.BoundDevice {
			d.owner.closing = true
		}
	}
	d.l.closeFD(d.fd)
}

// expire acts on the device's deadlines: due reports whether a deadline
// has passed, and notes the others as the owner's next.
func (d *device) expire(due func(time.Time) bool) {
	cfg := &d.e.cfg
	switch {
	case d.stalled && due(d.outSince.Add(cfg.WriteTimeout)):
		// The device does not take its requests.
		d.close(ReasonUpstreamClosed, true)
		return
	case !d.partialSince.IsZero() && due(d.partialSince.Add(cfg.FrameTimeout)):
		d.frameTimeout()
		return
	}
	inOrder := false
	for i := range d.slots {
		s := &d.slots[i]
		if s.state != slotWaiting || !due(s.deadline) {
			continue
		}
		s.client.answer(&s.rec, AnswerNoResponse)
		s.client.report(inspect.Failure, ReasonUpstreamTimeout, false, &s.rec, nil)
		s.client.n--
		d.waiting--
		s.state = slotExpired
		if s.pairing == InOrder {
			d.release(s)
			inOrder = true
		}
	}
	switch {
	case inOrder:
		// Answers in order cannot be paired once one is missing.
		d.close(ReasonUpstreamTimeout, true)
	}
	// A device inside a frame when a request expires keeps its
	// connection: the frame may well be another request's answer, and
	// only a frame that makes no progress for FrameTimeout (above) ends
	// the connection.
}

// frameTimeout closes a device connection whose frame did not complete
// in time, reported as a framing error.
func (d *device) frameTimeout() {
	d.malformed(ReasonUpstreamFrame, "")
	d.close(ReasonUpstreamFrame, true)
}
