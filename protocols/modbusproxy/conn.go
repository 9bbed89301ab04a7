package modbusproxy

import (
	"context"
	"errors"
	"io"
	"net/netip"
	"os"
	"time"

	"golang.org/x/sys/unix"

	"github.com/zonegate/zonegate/protocols/modbus"
)

// conn is one client connection, owned by its loop: every field is read
// and written by the loop's goroutine only, except route and src, which
// never change.
type conn struct {
	l     *loop
	p     *Proxy
	fd    int
	route Route
	src   netip.AddrPort
	ctrs  *modbus.ConduitCounters

	fr           modbus.Framer
	rd           fdReader
	req          modbus.Request
	lim          modbus.RateLimiter
	ev           modbus.Event
	partialSince time.Time // a client frame started and is not complete
	lastRead     time.Time
	out          []byte // answers the client has not taken yet
	outSince     time.Time
	queued       bool // in the loop's list of connections to serve again

	slots   []slot // MaxOutstanding once the first request is forwarded
	n       int    // slots in use
	up      *upstream
	nextTID uint16

	held       bool // the request in req waits for the device connection
	dialing    bool
	heldFrame  modbus.Frame
	heldMode   modbus.Mode
	dialFailed time.Time // last failed connect to the device
	dialErr    error

	eof, draining, closed bool

	buf [modbus.DefaultFramerBufferSize]byte
}

// slot is one forwarded request awaiting its response.
type slot struct {
	used     bool
	tid      uint16 // client's transaction id
	upTID    uint16 // transaction id sent upstream
	unit     uint8
	fc       modbus.FunctionCode
	addr     uint16
	qty      uint16
	deadline time.Time
}

// upstream is one connection to the device, owned by its client
// connection's loop.
type upstream struct {
	c            *conn
	fd           int
	fr           modbus.Framer
	rd           fdReader
	ev           modbus.Event
	out          []byte
	outSince     time.Time
	partialSince time.Time
	buf          [modbus.DefaultFramerBufferSize]byte
}

// redialBackoff is how long requests of a connection get 0x0A at once
// after a failed connect, before the proxy tries to connect again.
const redialBackoff = time.Second

func newConn(l *loop, fd int, route Route, src netip.AddrPort, ctrs *modbus.ConduitCounters) *conn {
	c := &conn{l: l, p: l.p, fd: fd, route: route, src: src, ctrs: ctrs}
	c.rd.fd = fd
	c.fr.Reset(&c.rd, c.buf[:])
	return c
}

// addConn starts serving a connection admitted by the proxy.
func (l *loop) addConn(c *conn) {
	l.conns[c] = struct{}{}
	c.lastRead = l.now
	if err := l.register(c.fd, c, socketEvents); err != nil {
		l.p.cfg.Log.Warn("modbus proxy: client connection dropped: " + err.Error())
		c.close(true)
		return
	}
	l.arm(l.now.Add(l.p.cfg.IdleTimeout))
}

// canTake reports whether the connection takes another request now.
func (c *conn) canTake() bool {
	return !c.closed && !c.eof && !c.draining && !c.held && c.n < c.p.cfg.MaxOutstanding &&
		len(c.out) == 0 && (c.up == nil || len(c.up.out) == 0)
}

// handle implements handler for the client socket.
func (c *conn) handle(ev uint32) {
	if c.closed {
		return
	}
	if ev&(unix.EPOLLERR|unix.EPOLLHUP) != 0 && !c.canTake() {
		// Not reading (full, draining or at EOF) and the peer is gone.
		c.close(false)
		return
	}
	if ev&unix.EPOLLOUT != 0 && len(c.out) > 0 {
		if err := writePending(c.fd, &c.out, &c.outSince, c.l.now); err != nil {
			c.close(false)
			return
		}
	}
	c.rd.event(ev)
	c.settle()
}

// process takes requests from the framer until it needs bytes the socket
// does not have (or that this round's read budget does not allow), or the
// connection cannot take more.
func (c *conn) process() {
	c.rd.budget = readBudget
	l := c.l
	for c.canTake() {
		f, err := c.fr.Next()
		if err == errWouldBlock {
			if c.fr.Buffered() > 0 && c.partialSince.IsZero() {
				c.partialSince = l.now
				l.arm(l.now.Add(c.p.cfg.FrameTimeout))
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

// settle takes the requests the connection can take now (buffered, or
// waiting in the socket), writes what is due and closes a finished
// connection. Epoll is edge-triggered: a socket that still has bytes when
// the connection stops taking requests is read when it takes them again,
// and one that has more than a round's budget is served again in the
// loop's next round.
func (c *conn) settle() {
	if c.canTake() && (c.fr.Buffered() > 0 || c.rd.ready) {
		c.process()
	}
	c.flush()
	if c.closed {
		return
	}
	if (c.eof || c.draining) && c.n == 0 && !c.held && len(c.out) == 0 {
		c.close(false)
		return
	}
	if !c.queued && (c.rd.ready && c.canTake() || c.up != nil && c.up.rd.ready) {
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
	if u := c.up; u != nil && u.rd.ready {
		u.read()
	}
	c.settle()
}

// flush writes the loop's scratch buffers: requests to the device, then
// answers to the client.
func (c *conn) flush() {
	l := c.l
	if c.closed {
		l.cw, l.uw = l.cw[:0], l.uw[:0]
		return
	}
	if len(l.uw) > 0 {
		if u := c.up; u != nil {
			if err := l.write(u.fd, &u.out, &u.outSince, l.uw); err != nil {
				c.closeUpstream(u, modbus.ReasonUpstreamClosed, err)
			}
		}
		l.uw = l.uw[:0]
	}
	if len(l.cw) > 0 {
		err := l.write(c.fd, &c.out, &c.outSince, l.cw)
		l.cw = l.cw[:0]
		if err != nil {
			c.close(false)
		}
	}
}

// request handles one frame from the client.
func (c *conn) request(f modbus.Frame) {
	l := c.l
	pol := c.route.Policy.Load()
	rateNow := l.now
	if c.p.cfg.Now != nil {
		rateNow = c.p.cfg.Now()
	}
	d := pol.Evaluate(f, &c.req, &c.lim, rateNow)
	c.ctrs.Request(f.Function(), d.Verdict())
	if !d.Allowed {
		c.emit(&c.ev, modbus.EventDenied, pol.Mode(), &c.req, d.Reason, d.Exception, nil)
	}
	if d.Forward() {
		c.forward(f, pol)
		return
	}
	if pol.OnDeny() == modbus.DenyReset {
		c.close(true)
		return
	}
	l.cw = modbus.AppendException(l.cw, f.TransactionID(), f.Unit(), f.Function(), d.Exception)
}

// forward sends a request to the device, connecting first if needed.
func (c *conn) forward(f modbus.Frame, pol *modbus.Policy) {
	if c.up != nil {
		c.send(f, pol.Mode(), pol.ResponseTimeout())
		return
	}
	if !c.dialFailed.IsZero() && c.l.now.Sub(c.dialFailed) < redialBackoff {
		// Do not hammer an unreachable device.
		c.emit(&c.ev, modbus.EventUpstreamUnreachable, pol.Mode(), &c.req, modbus.ReasonUpstreamDial, modbus.ExGatewayPathUnavailable, c.dialErr)
		c.l.cw = modbus.AppendExceptionFor(c.l.cw, f, modbus.ExGatewayPathUnavailable)
		return
	}
	c.held, c.heldFrame, c.heldMode = true, f, pol.Mode()
	c.startDial()
}

// send queues a request for the device under a fresh transaction id.
func (c *conn) send(f modbus.Frame, mode modbus.Mode, timeout time.Duration) {
	l := c.l
	if c.slots == nil {
		c.slots = make([]slot, c.p.cfg.MaxOutstanding)
	}
	var s *slot
	for i := range c.slots {
		if !c.slots[i].used {
			s = &c.slots[i]
			break
		}
	}
	if timeout <= 0 {
		timeout = c.p.cfg.ResponseTimeout
	}
	*s = slot{used: true, tid: f.TransactionID(), upTID: c.allocTID(), unit: f.Unit(), fc: f.Function(), deadline: l.now.Add(timeout)}
	if c.req.Valid() {
		s.addr, s.qty = c.req.Address, c.req.Quantity
	}
	c.n++
	l.arm(s.deadline)
	start := len(l.uw)
	l.uw = append(l.uw, f...)
	modbus.Frame(l.uw[start:]).SetTransactionID(s.upTID)
	if c.req.Valid() && c.req.IsWrite() {
		c.emit(&c.ev, modbus.EventWrite, mode, &c.req, "", 0, nil)
	}
}

// allocTID returns the next upstream transaction id that no outstanding
// request uses: a late answer to an expired request is never taken for
// the answer to a new one.
func (c *conn) allocTID() uint16 {
	for {
		t := c.nextTID
		c.nextTID++
		free := true
		for i := range c.slots {
			if c.slots[i].used && c.slots[i].upTID == t {
				free = false
				break
			}
		}
		if free {
			return t
		}
	}
}

// startDial connects to the device in a goroutine; the held request goes
// out when it is connected.
func (c *conn) startDial() {
	c.dialing = true
	p, l := c.p, c.l
	addr := c.route.Upstream.String()
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		ctx, cancel := context.WithTimeout(p.ctx, p.cfg.DialTimeout)
		nc, err := p.cfg.Dial(ctx, "tcp", addr)
		cancel()
		fd := -1
		if err == nil {
			fd, err = takeFD(nc)
		}
		if !l.post(func() { c.dialed(fd, err) }) && fd >= 0 {
			unix.Close(fd)
		}
	}()
}

// dialed takes the outcome of startDial.
func (c *conn) dialed(fd int, err error) {
	l := c.l
	c.dialing = false
	if c.closed {
		if fd >= 0 {
			unix.Close(fd)
		}
		return
	}
	if err == nil {
		u := &upstream{c: c, fd: fd}
		u.rd.fd = fd
		u.fr.Reset(&u.rd, u.buf[:])
		if err = l.register(fd, u, socketEvents); err != nil {
			unix.Close(fd)
		} else {
			c.up = u
		}
	}
	if err != nil {
		c.dialFailed, c.dialErr = l.now, err
		c.emit(&c.ev, modbus.EventUpstreamUnreachable, c.heldMode, &c.req, modbus.ReasonUpstreamDial, modbus.ExGatewayPathUnavailable, err)
		l.cw = modbus.AppendExceptionFor(l.cw, c.heldFrame, modbus.ExGatewayPathUnavailable)
	} else {
		c.dialFailed, c.dialErr = time.Time{}, nil
		c.send(c.heldFrame, c.heldMode, c.route.Policy.Load().ResponseTimeout())
	}
	c.held, c.heldFrame = false, nil
	c.settle()
}

// handle implements handler for the device socket.
func (u *upstream) handle(ev uint32) {
	c := u.c
	if c.closed || c.up != u {
		return
	}
	if ev&unix.EPOLLOUT != 0 && len(u.out) > 0 {
		if err := writePending(u.fd, &u.out, &u.outSince, c.l.now); err != nil {
			c.closeUpstream(u, modbus.ReasonUpstreamClosed, err)
			c.settle()
			return
		}
	}
	if ev&readEvents != 0 {
		u.rd.event(ev)
		u.read()
	}
	c.settle()
}

// read takes the device's responses.
func (u *upstream) read() {
	c, l := u.c, u.c.l
	u.rd.budget = readBudget
	for {
		f, err := u.fr.Next()
		if err == nil {
			u.partialSince = time.Time{}
			c.deliver(u, f)
			continue
		}
		if err == errWouldBlock {
			break
		}
		var fe *modbus.FrameError
		if errors.As(err, &fe) {
			c.emitSlot(&u.ev, modbus.EventMalformed, nil, modbus.ReasonMalformedFrame, 0, nil, err)
		}
		c.closeUpstream(u, modbus.ReasonUpstreamClosed, err)
		return
	}
	if u.fr.Buffered() > 0 && u.partialSince.IsZero() {
		u.partialSince = l.now
		l.arm(l.now.Add(c.p.cfg.FrameTimeout))
	}
}

// deliver matches a response to its request and passes it on.
func (c *conn) deliver(u *upstream, f modbus.Frame) {
	tid := f.TransactionID()
	for i := range c.slots {
		s := &c.slots[i]
		if !s.used || s.upTID != tid {
			continue
		}
		if f.Unit() != s.unit || (f.Function() != s.fc && f.Function() != s.fc|0x80) {
			c.emitSlot(&u.ev, modbus.EventUnsolicited, s, modbus.ReasonMismatched, 0, f, nil)
			return
		}
		l := c.l
		start := len(l.cw)
		l.cw = append(l.cw, f...)
		modbus.Frame(l.cw[start:]).SetTransactionID(s.tid)
		s.used = false
		c.n--
		return
	}
	c.emitSlot(&u.ev, modbus.EventUnsolicited, nil, modbus.ReasonUnsolicited, 0, f, nil)
}

// closeUpstream closes the device connection and answers its outstanding
// requests with 0x0B; the next request connects again.
func (c *conn) closeUpstream(u *upstream, reason modbus.Reason, err error) {
	if c.up != u {
		return
	}
	c.up = nil
	c.l.closeFD(u.fd)
	for i := range c.slots {
		if s := &c.slots[i]; s.used {
			c.fail(s, modbus.EventUpstreamClosed, reason, err, &u.ev)
		}
	}
}

// desync closes a device connection whose frame did not complete in time,
// reported as a framing error.
func (c *conn) desync(u *upstream) {
	c.emitSlot(&u.ev, modbus.EventMalformed, nil, modbus.ReasonUpstreamFrame, 0, nil, nil)
	c.closeUpstream(u, modbus.ReasonUpstreamFrame, nil)
}

// fail answers an outstanding request with 0x0B.
func (c *conn) fail(s *slot, kind modbus.EventKind, reason modbus.Reason, err error, ev *modbus.Event) {
	c.l.cw = modbus.AppendException(c.l.cw, s.tid, s.unit, s.fc, modbus.ExGatewayTargetNoResponse)
	c.emitSlot(ev, kind, s, reason, modbus.ExGatewayTargetNoResponse, nil, err)
	s.used = false
	c.n--
}

// expire acts on the connection's deadlines at now and returns its next
// deadline (zero: none).
func (c *conn) expire(now time.Time) time.Time {
	cfg := &c.p.cfg
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
	case len(c.out) > 0 && due(c.outSince.Add(cfg.WriteTimeout)),
		!c.partialSince.IsZero() && due(c.partialSince.Add(cfg.FrameTimeout)),
		c.partialSince.IsZero() && !c.eof && due(c.lastRead.Add(cfg.IdleTimeout)):
		// The client does not take its answers, stalls inside a frame or
		// sends nothing: close.
		c.close(false)
		return time.Time{}
	}
	if u := c.up; u != nil {
		switch {
		case len(u.out) > 0 && due(u.outSince.Add(cfg.WriteTimeout)):
			c.closeUpstream(u, modbus.ReasonUpstreamClosed, os.ErrDeadlineExceeded)
		case !u.partialSince.IsZero() && due(u.partialSince.Add(cfg.FrameTimeout)):
			c.desync(u)
		}
	}
	expired := false
	for i := range c.slots {
		if s := &c.slots[i]; s.used && due(s.deadline) {
			ev := &c.ev
			if c.up != nil {
				ev = &c.up.ev
			}
			c.fail(s, modbus.EventUpstreamTimeout, modbus.ReasonUpstreamTimeout, nil, ev)
			expired = true
		}
	}
	if u := c.up; expired && u != nil && u.fr.Buffered() > 0 {
		// The device is inside a frame that did not complete within the
		// response time: its stream cannot be trusted any more.
		c.desync(u)
	}
	c.settle()
	if c.closed {
		return time.Time{}
	}
	return next
}

// readFailed handles a read error or the end of the client's stream.
func (c *conn) readFailed(err error) {
	var fe *modbus.FrameError
	switch {
	case errors.As(err, &fe):
		c.emit(&c.ev, modbus.EventMalformed, c.route.Policy.Load().Mode(), nil, modbus.ReasonMalformedFrame, 0, err)
		c.close(true)
	case errors.Is(err, io.EOF):
		// The client is done: deliver what is outstanding, then close.
		c.eof = true
	default:
		c.close(false)
	}
}

// startDrain makes the connection stop taking requests and close once the
// outstanding ones are answered (Proxy.Shutdown).
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
	if u := c.up; u != nil && len(l.uw) > 0 && len(u.out) == 0 {
		_, _ = rawWrite(u.fd, l.uw)
	}
	if len(l.cw) > 0 && len(c.out) == 0 {
		_, _ = rawWrite(c.fd, l.cw)
	}
	l.cw, l.uw = l.cw[:0], l.uw[:0]
	if reset {
		_ = unix.SetsockoptLinger(c.fd, unix.SOL_SOCKET, unix.SO_LINGER, &unix.Linger{Onoff: 1, Linger: 0})
	}
	if u := c.up; u != nil {
		c.up = nil
		l.closeFD(u.fd)
	}
	l.closeFD(c.fd)
	delete(l.conns, c)
	c.p.release(c)
}

// emit fills ev from a request and hands it to the counters and the sink.
func (c *conn) emit(ev *modbus.Event, kind modbus.EventKind, mode modbus.Mode, req *modbus.Request, reason modbus.Reason, ex modbus.ExceptionCode, err error) {
	c.ctrs.Event(kind)
	sink := c.p.cfg.Sink
	if sink == nil {
		return
	}
	*ev = modbus.Event{Kind: kind, Time: c.p.now(), Source: c.src, Destination: c.route.Upstream, Conduit: c.route.Conduit,
		Mode: mode, Reason: reason, Exception: ex, Err: err}
	if req != nil && req.Frame() != nil {
		ev.TransactionID, ev.Unit, ev.Function = req.TransactionID, req.Unit, req.Function
		ev.Frame = req.Frame()
		if req.Valid() {
			ev.Address, ev.Quantity, ev.Request = req.Address, req.Quantity, req
		}
	}
	sink.ModbusEvent(ev)
}

// emitSlot reports an event about a forwarded request.
func (c *conn) emitSlot(ev *modbus.Event, kind modbus.EventKind, s *slot, reason modbus.Reason, ex modbus.ExceptionCode, f modbus.Frame, err error) {
	c.ctrs.Event(kind)
	sink := c.p.cfg.Sink
	if sink == nil {
		return
	}
	*ev = modbus.Event{Kind: kind, Time: c.p.now(), Source: c.src, Destination: c.route.Upstream, Conduit: c.route.Conduit,
		Reason: reason, Exception: ex, Frame: f, Err: err}
	if s != nil {
		ev.TransactionID, ev.Unit, ev.Function, ev.Address, ev.Quantity = s.tid, s.unit, s.fc, s.addr, s.qty
	}
	sink.ModbusEvent(ev)
}
