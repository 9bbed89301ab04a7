package proxy

import (
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

	pool   *pool     // the connections to the device; nil before the first forward
	n      int       // requests queued or waiting for the device's answer
	q      []pending // requests waiting for a device connection, from qhead
	qhead  int
	qbuf   []byte // their frames
	inRing bool   // in the pool's round of clients with queued requests

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
	return !c.closed && !c.eof && !c.draining && !c.closing && c.n < c.e.cfg.MaxOutstanding && !c.stalled
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
		(c.eof || c.draining) && c.n == 0 && !c.stalled:
		c.close(false)
		return
	}
	if !c.queued && c.rd.ready && c.canTake() {
		c.queued = true
		c.l.again = append(c.l.again, c)
	}
}

// touch has the loop settle the connection in this round: a device
// connection gave it answers (or the engine did in the device's place).
func (c *conn) touch() {
	if !c.queued && !c.closed {
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
	if c.pool != nil {
		c.pool.pump()
	}
	if c.rd.got {
		c.rd.got = false
		c.lastRead = l.now
	}
}

// flush writes the answers due to the client (process has had the
// pool write the requests to the device).
func (c *conn) flush() {
	if c.closed {
		return
	}
	l := c.l
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

// forward queues the request of c.v for the device (process then has
// the pool send what its device connections have room for, connecting
// first if needed).
func (c *conn) forward(f []byte) {
	p := c.poolOf()
	if len(p.devs) == 0 && p.dialing == 0 && !p.dialFail.IsZero() && c.l.now.Sub(p.dialFail) < redialBackoff {
		// Do not hammer an unreachable device.
		c.report(inspect.Failure, ReasonUpstreamDial, c.v.Monitor, &c.v.Record, nil)
		c.answer(&c.v.Record, AnswerUnreachable)
		if c.e.framing.BoundDevice {
			c.closing = true
		}
		return
	}
	if !c.enqueue(f) {
		c.report(inspect.Failure, ReasonQueueFull, c.v.Monitor, &c.v.Record, nil)
		c.answer(&c.v.Record, AnswerBusy)
		return
	}
	p.take() // a device connection with room takes it now; process writes

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
	if p := c.pool; p != nil {
		p.refs--
		if p.owner == c {
			p.pump()
			c.unqueue()
			p.closeAll()
		} else {
			c.unqueue()
			p.forget(c)
		}
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
