package proxy

import (
	"context"
	"io"
	"net/netip"
	"time"

	"golang.org/x/sys/unix"

	"github.com/zonegate/zonegate/protocols/inspect"
)

// redialBackoff is how long requests of a connection get
// AnswerUnreachable at once after a failed connect, before the engine
// tries to connect again.
const redialBackoff = time.Second

// conn is one client connection, owned by its loop: every field is read
// and written by the loop's goroutine only, except those set before it
// reaches the loop (route, src, sess, live, ctrs), which never change.
type conn struct {
	l     *loop
	e     *Engine
	fd    int
	route Route
	src   netip.AddrPort
	sess  Session
	live  *livePolicy
	ctrs  *conduitCounters

	rd           sock
	in           inbuf
	out          []byte // answers for the client
	outSince     time.Time
	stalled      bool      // out holds bytes the socket did not take
	partialSince time.Time // a client frame started and is not complete
	lastRead     time.Time
	queued       bool // in the loop's list of connections to serve again

	dev        *device   // the device connection; nil before the first forward and after it closed
	n          int       // requests waiting for the device's answer
	held       []byte    // a request waiting for the device connection (its verdict is v)
	dialFailed time.Time // last failed connect to the device

	eof      bool // the client finished sending
	draining bool // Shutdown: answer what is outstanding, then close
	closing  bool // close once out is sent
	closed   bool

	v Verdict // the verdict of the request being handled
}

// init prepares a connection for its loop (on the admitting goroutine).
func (c *conn) init() {
	c.rd.fd = c.fd
	c.in = newInbuf(c.e.framing.MaxRequest)
}

// addConn starts serving a connection admitted by the engine.
func (l *loop) addConn(c *conn) {
	l.conns[c] = struct{}{}
	c.lastRead = l.now
	if err := l.register(c.fd, c); err != nil {
		c.close(true)
		return
	}
	l.arm(l.now.Add(l.e.cfg.IdleTimeout))
}

// canTake reports whether the connection takes another request now.
func (c *conn) canTake() bool {
	return !c.closed && !c.eof && !c.draining && !c.closing && c.held == nil && c.n < c.e.cfg.MaxOutstanding &&
		!c.stalled && (c.dev == nil || !c.dev.stalled)
}

// handle implements handler for the client socket.
func (c *conn) handle(ev uint32) {
	if c.closed {
		return
	}
	if ev&(unix.EPOLLERR|unix.EPOLLHUP) != 0 && !c.canTake() {
		// Not reading (busy, draining or at its end) and the peer is gone.
		c.close(false)
		return
	}
	if ev&unix.EPOLLOUT != 0 && c.stalled {
		if err := c.l.writeOut(c.fd, &c.out, &c.outSince, &c.stalled); err != nil {
			c.close(false)
			return
		}
	}
	c.rd.event(ev)
	c.settle()
}

// settle takes the requests the connection can take now (buffered, or
// waiting in the socket), writes what is due and closes a finished
// connection. Epoll is edge-triggered: a socket that still has bytes when
// the connection stops taking requests is read when it takes them again,
// and one that has more than a round's budget is served again in the
// loop's next round.
func (c *conn) settle() {
	if c.canTake() && (c.in.buffered() > 0 || c.rd.ready) {
		c.process()
	}
	c.flush()
	switch {
	case c.closed:
		return
	case c.closing && !c.stalled,
		(c.eof || c.draining) && c.n == 0 && c.held == nil && !c.stalled:
		c.close(false)
		return
	}
	if !c.queued && (c.rd.ready && c.canTake() || c.dev != nil && c.dev.rd.ready) {
		c.queued = true
		c.l.again = append(c.l.again, c)
	}
}

// serveAgain continues a connection whose sockets had more than a round's
// budget.
func (c *conn) serveAgain() {
	c.queued = false
	if c.closed {
		return
	}
	if d := c.dev; d != nil && d.rd.ready {
		d.read()
	}
	c.settle()
}

// process takes requests until the client's socket has nothing more (or
// this round's read budget is spent) or the connection cannot take more.
func (c *conn) process() {
	c.rd.budget = readBudget
	l := c.l
	for c.canTake() {
		f, err := c.in.next(&c.rd, c.sess.SplitRequest)
		if err == errWouldBlock {
			if c.in.buffered() > 0 && c.partialSince.IsZero() {
				c.partialSince = l.now
				l.arm(l.now.Add(c.e.cfg.FrameTimeout))
			}
			break
		}
		if err != nil {
			c.readFailed(err)
			break
		}
		c.partialSince = time.Time{}
		c.request(f)
	}
	if c.rd.got {
		c.rd.got = false
		c.lastRead = l.now
	}
}

// flush writes what is due: requests to the device, then answers to the
// client.
func (c *conn) flush() {
	if c.closed {
		return
	}
	l := c.l
	if d := c.dev; d != nil && d.fd >= 0 && len(d.out) > 0 && !d.stalled {
		if err := l.writeOut(d.fd, &d.out, &d.outSince, &d.stalled); err != nil {
			d.close(ReasonUpstreamClosed, true)
		}
	}
	if len(c.out) > 0 && !c.stalled {
		if err := l.writeOut(c.fd, &c.out, &c.outSince, &c.stalled); err != nil {
			c.close(false)
		}
	}
}

// request handles one frame from the client.
func (c *conn) request(f []byte) {
	v := &c.v
	*v = Verdict{}
	c.sess.Request(f, c.live.load(), c.e.now(c.l.now), v)
	c.ctrs.count(v)
	if v.Reason != "" {
		kind := inspect.Denied
		if v.Malformed {
			kind = inspect.Malformed
		}
		c.report(kind, v.Reason, v.Monitor, &v.Record, f)
	}
	switch v.Action {
	case Forward:
		c.forward(f)
	case Refuse:
		c.answer(&v.Record, AnswerDeny)
	case Close:
		c.answer(&v.Record, AnswerDeny)
		c.closing = true
	default:
		c.close(true)
	}
}

// answer appends the engine's answer to the request rec describes.
func (c *conn) answer(rec *Record, why Answer) {
	out, keep := c.e.codec.AppendAnswer(c.out, rec, why)
	c.out = out
	if !keep {
		c.closing = true
	}
}

// forward sends the request of c.v to the device, connecting first if
// needed.
func (c *conn) forward(f []byte) {
	if c.dev != nil {
		c.send(f)
		return
	}
	if !c.dialFailed.IsZero() && c.l.now.Sub(c.dialFailed) < redialBackoff {
		// Do not hammer an unreachable device.
		c.report(inspect.Failure, ReasonUpstreamDial, c.v.Monitor, &c.v.Record, nil)
		c.answer(&c.v.Record, AnswerUnreachable)
		return
	}
	c.held = f
	c.startDial()
}

// send queues the request of c.v for the device, under a key of the
// device connection's when the codec's keys are renumbered.
func (c *conn) send(f []byte) {
	v, d := &c.v, c.dev
	start := len(d.out)
	d.out = append(d.out, f...)
	if v.Pairing == ByKey || v.Pairing == InOrder {
		s := d.add(c, v)
		if s == nil {
			// The client's key is outstanding already and frames cannot
			// be renumbered.
			d.out = d.out[:start]
			c.answer(&v.Record, AnswerBusy)
			return
		}
		if v.Pairing == ByKey && c.e.framing.KeySpace > 0 {
			c.e.codec.SetKey(d.out[start:], s.devKey)
		}
		c.n++
		c.l.arm(s.deadline)
	}
	if v.Write {
		c.report(inspect.Write, "", v.Monitor, &v.Record, f)
	}
	if v.Opened {
		c.report(inspect.Opened, "", v.Monitor, &v.Record, f)
	}
}

// startDial connects to the device in a goroutine; the held request goes
// out when it is connected.
func (c *conn) startDial() {
	e, l := c.e, c.l
	addr := c.route.Upstream.String()
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		ctx, cancel := context.WithTimeout(e.ctx, e.cfg.DialTimeout)
		nc, err := e.cfg.Dial(ctx, "tcp", addr)
		cancel()
		fd := -1
		if err == nil {
			fd, err = takeFD(nc)
		}
		if !l.post(func() { c.dialed(fd, err) }) {
			closeFD(fd)
		}
	}()
}

// dialed takes the outcome of startDial.
func (c *conn) dialed(fd int, err error) {
	l := c.l
	if c.closed {
		closeFD(fd)
		return
	}
	if err == nil {
		d := newDevice(c, fd)
		if err = l.register(fd, d); err != nil {
			closeFD(fd)
		} else {
			c.dev = d
		}
	}
	if err != nil {
		c.dialFailed = l.now
		c.report(inspect.Failure, ReasonUpstreamDial, c.v.Monitor, &c.v.Record, nil)
		c.answer(&c.v.Record, AnswerUnreachable)
		if c.e.framing.BoundDevice {
			c.closing = true
		}
	} else {
		c.dialFailed = time.Time{}
		c.send(c.held)
	}
	c.held = nil
	c.settle()
}

// expire acts on the connection's deadlines at now and returns its next
// deadline (zero: none).
func (c *conn) expire(now time.Time) time.Time {
	cfg := &c.e.cfg
	var next time.Time
	due := func(t time.Time) bool {
		if !now.Before(t) {
			return true
		}
		if next.IsZero() || t.Before(next) {
			next = t
		}
		return false
	}
	switch {
	case c.stalled && due(c.outSince.Add(cfg.WriteTimeout)),
		!c.partialSince.IsZero() && due(c.partialSince.Add(cfg.FrameTimeout)),
		c.partialSince.IsZero() && !c.eof && due(c.lastRead.Add(cfg.IdleTimeout)):
		// The client does not take its answers, stalls inside a frame or
		// sends nothing: close.
		c.close(false)
		return time.Time{}
	}
	if d := c.dev; d != nil {
		d.expire(due)
	}
	c.settle()
	if c.closed {
		return time.Time{}
	}
	return next
}

// readFailed handles a broken stream or the end of the client's.
func (c *conn) readFailed(err error) {
	switch err {
	case io.EOF:
		// The client is done: deliver what is outstanding, then close.
		c.eof = true
	case errFraming, errTruncated, errTooLong:
		if c.l.repeat(inspect.Malformed, ReasonMalformedFrame, c.v.Monitor, c) {
			// Counted into an equal event of this round.
		} else if ev := c.l.event(inspect.Malformed, ReasonMalformedFrame); ev != nil {
			c.fill(ev, c.v.Monitor)
			ev.Summary.Add(c.in.framingError(err).Error())
		}
		c.close(true)
	default:
		c.close(false)
	}
}

// startDrain makes the connection stop taking requests and close once the
// outstanding ones are answered (Engine.Shutdown).
func (c *conn) startDrain() {
	if c.closed {
		return
	}
	c.draining = true
	c.settle()
}

// close closes the client connection (with RST when reset) and its device
// connection, and releases it.
func (c *conn) close(reset bool) {
	if c.closed {
		return
	}
	c.closed = true
	l := c.l
	// Requests and answers already due, such as a valid request before a
	// malformed frame: best effort.
	if d := c.dev; d != nil {
		if len(d.out) > 0 {
			_, _ = rawWrite(d.fd, d.out)
		}
		d.closeFD()
	}
	if len(c.out) > 0 {
		_, _ = rawWrite(c.fd, c.out)
	}
	if reset {
		setReset(c.fd)
	}
	l.closeFD(c.fd)
	delete(l.conns, c)
	c.e.release(c)
}

// report queues an event about a request of the connection (rec and,
// for a write, frame describe it), or counts it into an equal one.
func (c *conn) report(kind inspect.EventKind, reason string, monitor bool, rec *Record, frame []byte) {
	if kind != inspect.Write && kind != inspect.Opened && c.l.repeat(kind, reason, monitor, c) {
		return
	}
	ev := c.l.event(kind, reason)
	if ev == nil {
		return
	}
	c.fill(ev, monitor)
	if rec != nil {
		c.e.codec.Describe(ev, rec, frame)
	}
}

// fill sets the connection's part of an event.
func (c *conn) fill(ev *inspect.Event, monitor bool) {
	ev.Source, ev.Destination, ev.Conduit, ev.Role, ev.Monitor = c.src, c.route.Upstream, c.route.Conduit, c.route.Identity.Role, monitor
}
