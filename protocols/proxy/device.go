package proxy

import (
	"time"

	"golang.org/x/sys/unix"

	"github.com/zonegate/zonegate/protocols/inspect"
)

// device is a connection to a device and the table of the requests
// outstanding on it. It belongs to a pool (the connections to one
// device), and through it to the pool's loop: each request in its table
// names the client connection it answers to and that client's key, and
// the device's keys are its own, so that several clients share one
// device connection.
type device struct {
	l  *loop
	e  *Engine
	fd int
	p  *pool

	rd           sock
	in           inbuf
	out          []byte // requests for the device
	outSince     time.Time
	stalled      bool
	partialSince time.Time // a device frame started and is not complete
	lastUsed     time.Time // last request sent or answer received
	silent       int       // requests timed out in a row with no byte from the device
	again        bool      // in the loop's list of device connections to read again

	// slots is the table of requests sent (a power of two long), free the
	// indexes of its free slots. When the key space has room for them,
	// a request's key on the device connection names its slot (slotKeys),
	// so that finding an answer's request is one look.
	slots    []slot
	free     []int32
	slotKeys bool
	waiting  int    // slots waiting for their answer
	expired  int    // slots expired
	nextKey  uint32 // next key to try (KeySpace > 0, !slotKeys)
	seq      uint64 // order of the requests sent
}

// slot is one request sent to the device.
type slot struct {
	index    int32  // in the table
	uses     uint32 // how often the slot was taken: its key changes with every use
	state    slotState
	client   *conn // nil once the client connection closed: the answer is dropped
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

func newDevice(p *pool, fd int) *device {
	e := p.e
	n := 1
	for n < 2*p.set.MaxInFlight { // room for expired requests beside the waiting ones
		n <<= 1
	}
	d := &device{l: p.l, e: e, fd: fd, p: p, in: newInbuf(e.framing.MaxAnswer), lastUsed: p.l.now,
		slots: make([]slot, n), free: make([]int32, 0, n), slotKeys: e.framing.KeySpace >= uint32(n)}
	for i := range d.slots {
		d.slots[i].index = int32(i)
	}
	d.freeAll()
	d.rd.fd = fd
	return d
}

// hasExpired reports whether a slot holds an expired request (which a new
// request may take).
func (d *device) hasExpired() bool { return d.expired > 0 }

// send writes a queued request of client c to the device, under a key of
// the device connection's when the codec's keys are renumbered.
func (d *device) send(c *conn, pd *pending, f []byte) {
	v := &pd.v
	start := len(d.out)
	d.out = append(d.out, f...)
	d.lastUsed = d.l.now
	if pairs(v.Pairing) {
		s := d.add(c, v, pd.deadline)
		if s == nil {
			// The client's key is outstanding already and frames cannot
			// be renumbered.
			d.out = d.out[:start]
			c.answer(&v.Record, AnswerBusy)
			c.n--
			c.touch()
			return
		}
		if v.Pairing == ByKey && d.e.framing.KeySpace > 0 {
			d.e.codec.SetKey(d.out[start:], s.devKey)
		}
	} else {
		c.n--
		c.touch()
	}
	if v.Write {
		c.report(inspect.Write, "", v.Monitor, &v.Record, f)
	}
	if v.Opened {
		c.report(inspect.Opened, "", v.Monitor, &v.Record, f)
	}
}

// freeAll marks every slot free.
func (d *device) freeAll() {
	d.free = d.free[:0]
	for i := len(d.slots) - 1; i >= 0; i-- {
		d.slots[i].state = slotFree
		d.free = append(d.free, int32(i))
	}
	d.waiting, d.expired = 0, 0
}

// release frees a slot.
func (d *device) release(s *slot) {
	if s.state == slotExpired {
		d.expired--
	}
	s.state = slotFree
	s.client = nil
	d.free = append(d.free, s.index)
}

// add records a request sent for client c with verdict v, due by
// deadline; nil when the client's key is outstanding already and keys
// are not renumbered.
func (d *device) add(c *conn, v *Verdict, deadline time.Time) *slot {
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
		if s == nil {
			return nil
		}
		d.expired--
	}
	devKey := v.Key
	if v.Pairing == ByKey && ks > 0 {
		if d.slotKeys {
			devKey = (s.uses*uint32(len(d.slots)) + uint32(s.index)) % ks
		} else {
			devKey = d.allocKey(ks)
		}
	}
	*s = slot{index: s.index, uses: s.uses + 1, state: slotWaiting, client: c, pairing: v.Pairing, key: v.Key, devKey: devKey,
		seq: d.seq, deadline: deadline, rec: v.Record}
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
	if d.fd < 0 {
		return
	}
	if ev&unix.EPOLLOUT != 0 && d.stalled {
		if err := d.l.writeOut(d.fd, &d.out, &d.outSince, &d.stalled); err != nil {
			d.close(ReasonUpstreamClosed, true)
			d.p.pump()
			return
		}
	}
	if ev&readEvents != 0 {
		d.rd.event(ev)
		d.read()
	}
	d.p.pump()
}

// readAgain continues reading a device connection that had more than a
// round's budget.
func (d *device) readAgain() {
	d.again = false
	if d.fd < 0 {
		return
	}
	d.read()
	d.p.pump()
}

// read takes the device's frames.
func (d *device) read() {
	d.rd.budget = readBudget
	for d.fd >= 0 {
		f, err := d.in.next(&d.rd, d.p.sess.SplitAnswer)
		if d.rd.got {
			d.silent = 0
		}
		switch err {
		case nil:
			d.partialSince = time.Time{}
			d.lastUsed = d.l.now
			d.answer(f)
			continue
		case errWouldBlock:
			// A partial frame's clock restarts with every byte of it
			// that arrives: only a frame that stops making progress
			// for FrameTimeout closes the connection.
			if d.in.buffered() > 0 && (d.partialSince.IsZero() || d.rd.got) {
				d.partialSince = d.l.now
				d.l.arm(d.l.now.Add(d.p.set.FrameTimeout))
			}
			d.rd.got = false
			if d.rd.ready && !d.again {
				d.again = true
				d.l.againDevs = append(d.l.againDevs, d)
			}
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
	p := d.p
	r := p.sess.Answer(f)
	var s *slot
	switch r.Kind {
	case Pass:
		if c := p.owner; c != nil {
			c.out = append(c.out, f...)
			c.touch()
		}
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
		d.report(ReasonUnsolicited, nil)
		return
	case s == nil:
		// An answer to no request while requests wait: the stream can no
		// longer be trusted to pair answers with requests.
		d.desync()
		return
	case s.state == slotExpired:
		d.reportFor(s.client, ReasonLateResponse, &s.rec)
		d.release(s)
		return
	case !p.sess.Match(f, &s.rec):
		d.desync()
		return
	}
	if p.check != nil {
		if why := p.check.CheckAnswer(f, &s.rec); why != "" {
			d.badAnswer(s, why)
			return
		}
	}
	cl := s.client
	if cl != nil {
		start := len(cl.out)
		cl.out = append(cl.out, f...)
		if s.pairing == ByKey && d.e.framing.KeySpace > 0 {
			d.e.codec.SetKey(cl.out[start:], s.key)
		}
		cl.n--
		cl.touch()
	}
	d.release(s)
	if d.waiting--; d.waiting == 0 {
		d.l.arm(d.l.now.Add(d.p.set.IdleTimeout))
	}
}

// report reports an event about the device connection, for the request
// rec describes when it is not nil.
func (d *device) report(reason string, rec *Record) {
	ev := d.l.event(inspect.Failure, reason)
	if ev == nil {
		return
	}
	d.p.fill(ev)
	if rec != nil {
		d.e.codec.Describe(ev, rec, nil)
	}
}

// reportFor reports an event about a request of client c (nil: closed).
func (d *device) reportFor(c *conn, reason string, rec *Record) {
	if c != nil && !c.closed {
		c.report(inspect.Failure, reason, false, rec, nil)
		return
	}
	d.report(reason, rec)
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
	d.report(ReasonUpstreamDesync, nil)
	d.close(ReasonUpstreamDesync, false)
}

// badAnswer answers the request of s, whose answer the codec found bad,
// in the device's place, reports it once under why, and closes the device
// connection as desynchronised without another event.
func (d *device) badAnswer(s *slot, why string) {
	if cl := s.client; cl != nil {
		cl.answer(&s.rec, AnswerNoResponse)
		cl.n--
		cl.touch()
	}
	d.reportFor(s.client, why, &s.rec)
	d.waiting--
	d.release(s)
	d.close(ReasonUpstreamDesync, false)
}

// malformed reports a broken device stream.
func (d *device) malformed(reason, sample string) {
	if ev := d.l.event(inspect.Malformed, reason); ev != nil {
		d.p.fill(ev)
		ev.Summary.Add(sample)
	}
}

// close closes the device connection and answers its waiting requests
// with AnswerNoResponse, each reported under reason when perRequest. The
// requests still queued go over the next connection.
func (d *device) close(reason string, perRequest bool) {
	if d.fd < 0 {
		return
	}
	for i := range d.slots {
		if s := &d.slots[i]; s.state == slotWaiting && s.client != nil {
			c := s.client
			c.answer(&s.rec, AnswerNoResponse)
			if perRequest {
				c.report(inspect.Failure, reason, false, &s.rec, nil)
			}
			c.n--
			c.touch()
		}
	}
	d.detach()
}

// detach closes the socket and takes the device connection out of its
// pool; a client bound to its device connection (Framing.BoundDevice)
// closes once its answers are out.
func (d *device) detach() {
	if d.fd < 0 {
		return
	}
	p := d.p
	for i, x := range p.devs {
		if x == d {
			copy(p.devs[i:], p.devs[i+1:])
			p.devs[len(p.devs)-1] = nil
			p.devs = p.devs[:len(p.devs)-1]
			break
		}
	}
	if p.owner != nil && d.e.framing.BoundDevice {
		p.owner.closing = true
		p.owner.touch()
	}
	d.l.closeFD(d.fd)
	d.fd = -1
	d.freeAll()
}

// expire acts on the device's deadlines (due reports whether a deadline
// has passed and notes the others as the loop's next) and reports whether
// it closed the connection.
func (d *device) expire(due func(time.Time) bool) bool {
	cfg := &d.e.cfg
	set := &d.p.set
	switch {
	case d.stalled && due(d.outSince.Add(cfg.WriteTimeout)):
		// The device does not take its requests.
		d.close(ReasonUpstreamClosed, true)
		return true
	case !d.partialSince.IsZero() && due(d.partialSince.Add(set.FrameTimeout)):
		d.frameTimeout()
		return true
	case d.waiting == 0 && len(d.out) == 0 && due(d.lastUsed.Add(set.IdleTimeout)):
		// Nothing outstanding for the idle time: the device's
		// connection slot goes back to it.
		d.detach()
		return true
	}
	inOrder := false
	for i := range d.slots {
		s := &d.slots[i]
		if s.state != slotWaiting || !due(s.deadline) {
			continue
		}
		if c := s.client; c != nil {
			c.answer(&s.rec, AnswerNoResponse)
			c.report(inspect.Failure, ReasonUpstreamTimeout, false, &s.rec, nil)
			c.n--
			c.touch()
		}
		d.waiting--
		s.state = slotExpired
		d.expired++
		d.silent++
		if s.pairing == InOrder {
			d.release(s)
			inOrder = true
		}
	}
	// A device inside a frame when a request expires keeps its
	// connection: the frame may well be another request's answer, and
	// only a frame that makes no progress for FrameTimeout (above) ends
	// the connection.
	switch {
	case inOrder:
		// Answers in order cannot be paired once one is missing.
		d.close(ReasonUpstreamTimeout, true)
		return true
	case d.silent >= set.RedialAfter:
		// Requests time out one after the other and the device sends
		// nothing: half open, or gone. Connect again.
		d.report(ReasonUpstreamSilent, nil)
		d.close(ReasonUpstreamTimeout, true)
		return true
	}
	return false
}

// frameTimeout closes a device connection whose frame did not complete
// in time, reported as a framing error.
func (d *device) frameTimeout() {
	d.malformed(ReasonUpstreamFrame, "")
	d.close(ReasonUpstreamFrame, true)
}
