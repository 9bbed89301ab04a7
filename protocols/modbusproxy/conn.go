package modbusproxy

import (
	"context"
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/zonegate/zonegate/protocols/modbus"
)

// conn is one client connection. Its reader goroutine (serve) reads,
// checks and forwards requests; one goroutine per upstream connection
// (readUpstream) matches responses. Both put answers into an ordered ring of
// slots and flush the ring's completed head to the client, under mu.
type conn struct {
	p     *Proxy
	c     net.Conn
	route Route
	src   netip.AddrPort
	ctrs  *modbus.ConduitCounters

	// Reader goroutine only.
	fr           modbus.Framer
	rd           clientReader
	buf          *[modbus.DefaultFramerBufferSize]byte
	req          modbus.Request
	lim          modbus.RateLimiter
	ev           modbus.Event
	partialSince time.Time
	dialFailed   time.Time // last failed connect to the device
	dialErr      error

	draining atomic.Bool

	mu      sync.Mutex
	cond    sync.Cond // ring space freed, ring drained, closed
	ring    *slotRing // nil while empty, to keep idle connections small
	head, n int
	waiting int // forwarded slots awaiting their response
	up      *upstream
	nextTID uint16
	closed  bool
}

// slot is one request awaiting its answer to the client.
type slot struct {
	tid      uint16 // client's transaction id
	upTID    uint16 // transaction id sent upstream
	unit     uint8
	fc       modbus.FunctionCode
	addr     uint16
	qty      uint16
	up       *upstream // nil for local answers
	ready    bool
	deadline time.Time
	n        int
	buf      [modbus.MaxFrameLen]byte
}

type slotRing struct{ s []slot }

// upstream is one connection to the device.
type upstream struct {
	c    net.Conn
	fr   modbus.Framer
	buf  *[modbus.DefaultFramerBufferSize]byte
	ev   modbus.Event
	done chan struct{}
}

// clientReader sets the client read deadline before each read: the idle
// timeout between frames, the frame timeout inside one.
type clientReader struct{ c *conn }

var errDraining = errors.New("modbus: proxy shutting down")

func (r *clientReader) Read(b []byte) (int, error) {
	c := r.c
	now := time.Now()
	var dl time.Time
	if c.fr.Buffered() == 0 {
		c.partialSince = time.Time{}
		dl = now.Add(c.p.cfg.IdleTimeout)
	} else {
		if c.partialSince.IsZero() {
			c.partialSince = now
		}
		dl = c.partialSince.Add(c.p.cfg.FrameTimeout)
	}
	if err := c.c.SetReadDeadline(dl); err != nil {
		return 0, err
	}
	if c.draining.Load() {
		return 0, errDraining
	}
	return c.c.Read(b)
}

// serve runs the reader loop until the connection ends.
func (c *conn) serve() {
	c.buf = c.p.bufPool.Get().(*[modbus.DefaultFramerBufferSize]byte)
	c.rd.c = c
	c.fr.Reset(&c.rd, c.buf[:])
	defer c.finish()
	for {
		f, err := c.fr.Next()
		if err != nil {
			c.readFailed(err)
			return
		}
		c.partialSince = time.Time{}
		if !c.request(f) {
			return
		}
	}
}

// request handles one frame from the client; false ends the connection.
func (c *conn) request(f modbus.Frame) bool {
	pol := c.route.Policy.Load()
	now := time.Now()
	rateNow := now
	if c.p.cfg.Now != nil {
		rateNow = c.p.cfg.Now()
	}
	d := pol.Evaluate(f, &c.req, &c.lim, rateNow)
	c.ctrs.Request(f.Function(), d.Verdict())
	if !d.Allowed {
		c.emit(&c.ev, modbus.EventDenied, pol.Mode(), &c.req, d.Reason, d.Exception, nil)
	}
	if d.Forward() {
		return c.forward(f, pol.Mode(), now)
	}
	if pol.OnDeny() == modbus.DenyReset {
		resetConn(c.c)
		return false
	}
	return c.answer(f.TransactionID(), f.Unit(), f.Function(), d.Exception)
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

// emitSlot reports an event about a forwarded request (mu held).
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

// readFailed ends the reader loop after a read error.
func (c *conn) readFailed(err error) {
	var fe *modbus.FrameError
	switch {
	case errors.As(err, &fe):
		c.emit(&c.ev, modbus.EventMalformed, c.route.Policy.Load().Mode(), nil, modbus.ReasonMalformedFrame, 0, err)
		resetConn(c.c)
	case errors.Is(err, io.EOF), errors.Is(err, errDraining),
		c.draining.Load() && errors.Is(err, os.ErrDeadlineExceeded):
		// The client is done (or we are): deliver what is outstanding.
		c.mu.Lock()
		for c.n > 0 && !c.closed {
			c.cond.Wait()
		}
		c.mu.Unlock()
	}
	// Idle and frame timeouts and socket errors just close.
}

// waitSpace waits for a free slot; false if the connection closed (mu held).
func (c *conn) waitSpace() bool {
	for !c.closed && c.n == c.p.cfg.MaxOutstanding {
		c.cond.Wait()
	}
	return !c.closed
}

// push appends a slot to the ring (mu held, space checked).
func (c *conn) push() *slot {
	if c.ring == nil {
		c.ring = c.p.slotPool.Get().(*slotRing)
	}
	s := &c.ring.s[(c.head+c.n)%len(c.ring.s)]
	c.n++
	return s
}

// answer queues a local exception response.
func (c *conn) answer(tid uint16, unit uint8, fc modbus.FunctionCode, ex modbus.ExceptionCode) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.waitSpace() {
		return false
	}
	s := c.push()
	*s = slot{tid: tid, unit: unit, fc: fc, ready: true}
	s.n = len(modbus.AppendException(s.buf[:0], tid, unit, fc, ex))
	return c.flush() == nil
}

// flush writes the completed head of the ring to the client (mu held).
func (c *conn) flush() error {
	var err error
	for c.n > 0 && err == nil {
		s := &c.ring.s[c.head]
		if !s.ready {
			break
		}
		if err = c.c.SetWriteDeadline(time.Now().Add(c.p.cfg.WriteTimeout)); err == nil {
			_, err = c.c.Write(s.buf[:s.n])
		}
		c.head = (c.head + 1) % len(c.ring.s)
		c.n--
	}
	if c.n == 0 && c.ring != nil {
		c.p.slotPool.Put(c.ring)
		c.ring, c.head = nil, 0
	}
	c.cond.Broadcast()
	if err != nil {
		c.closeLocked()
	}
	return err
}

// forward sends a request to the device, connecting first if needed.
func (c *conn) forward(f modbus.Frame, mode modbus.Mode, now time.Time) bool {
	c.mu.Lock()
	if !c.waitSpace() {
		c.mu.Unlock()
		return false
	}
	u := c.up
	if u == nil {
		c.mu.Unlock()
		var err error
		if !c.dialFailed.IsZero() && now.Sub(c.dialFailed) < redialBackoff {
			err = c.dialErr // do not hammer an unreachable device
		} else if u, err = c.dial(); err != nil {
			c.dialFailed, c.dialErr = now, err
		}
		if err != nil {
			c.emit(&c.ev, modbus.EventUpstreamUnreachable, mode, &c.req, modbus.ReasonUpstreamDial, modbus.ExGatewayPathUnavailable, err)
			return c.answer(f.TransactionID(), f.Unit(), f.Function(), modbus.ExGatewayPathUnavailable)
		}
		c.dialFailed, c.dialErr = time.Time{}, nil
		c.mu.Lock()
		if c.closed {
			c.mu.Unlock()
			u.c.Close()
			c.p.bufPool.Put(u.buf)
			return false
		}
		c.up = u
		go c.readUpstream(u)
	}
	// Waiting for ring space or a connect may have taken a while: time the
	// response and the write from now.
	now = time.Now()
	s := c.push()
	*s = slot{tid: f.TransactionID(), upTID: c.nextTID, unit: f.Unit(), fc: f.Function(), up: u,
		deadline: now.Add(c.p.cfg.ResponseTimeout)}
	if c.req.Valid() {
		s.addr, s.qty = c.req.Address, c.req.Quantity
	}
	c.nextTID++
	if c.waiting == 0 {
		_ = u.c.SetReadDeadline(s.deadline)
	}
	c.waiting++
	upTID := s.upTID
	c.mu.Unlock()

	clientTID := f.TransactionID()
	f.SetTransactionID(upTID)
	err := u.c.SetWriteDeadline(now.Add(c.p.cfg.WriteTimeout))
	if err == nil {
		_, err = u.c.Write(f)
	}
	f.SetTransactionID(clientTID)
	if err != nil {
		// The upstream reader sees the closed socket and fails the
		// outstanding requests with 0x0B.
		u.c.Close()
		return true
	}
	if c.req.Valid() && c.req.IsWrite() {
		c.emit(&c.ev, modbus.EventWrite, mode, &c.req, "", 0, nil)
	}
	return true
}

// redialBackoff is how long requests of a connection get 0x0A at once
// after a failed connect, before the proxy tries to connect again.
const redialBackoff = time.Second

// dial connects to the device.
func (c *conn) dial() (*upstream, error) {
	ctx, cancel := context.WithTimeout(c.p.ctx, c.p.cfg.DialTimeout)
	defer cancel()
	nc, err := c.p.cfg.Dial(ctx, "tcp", c.route.Upstream.String())
	if err != nil {
		return nil, err
	}
	u := &upstream{c: nc, done: make(chan struct{})}
	u.buf = c.p.bufPool.Get().(*[modbus.DefaultFramerBufferSize]byte)
	u.fr.Reset(nc, u.buf[:])
	return u, nil
}

// readUpstream reads the device's responses and matches them to requests.
func (c *conn) readUpstream(u *upstream) {
	defer func() {
		u.c.Close()
		c.p.bufPool.Put(u.buf)
		close(u.done)
	}()
	for {
		f, err := u.fr.Next()
		now := time.Now()
		c.mu.Lock()
		if c.closed {
			c.mu.Unlock()
			return
		}
		if err == nil {
			c.deliver(u, f)
			c.mu.Unlock()
			continue
		}
		if errors.Is(err, os.ErrDeadlineExceeded) && c.up == u {
			c.expire(u, now)
			c.mu.Unlock()
			continue
		}
		if c.up == u {
			c.up = nil
		}
		var fe *modbus.FrameError
		if errors.As(err, &fe) {
			c.emitSlot(&u.ev, modbus.EventMalformed, nil, modbus.ReasonMalformedFrame, 0, nil, err)
		}
		for i := 0; i < c.n; i++ {
			s := &c.ring.s[(c.head+i)%len(c.ring.s)]
			if s.up == u && !s.ready {
				c.complete(s, modbus.ExGatewayTargetNoResponse)
				c.emitSlot(&u.ev, modbus.EventUpstreamClosed, s, modbus.ReasonUpstreamClosed, modbus.ExGatewayTargetNoResponse, nil, err)
			}
		}
		c.flush()
		c.mu.Unlock()
		return
	}
}

// complete answers a forwarded slot with an exception (mu held).
func (c *conn) complete(s *slot, ex modbus.ExceptionCode) {
	s.n = len(modbus.AppendException(s.buf[:0], s.tid, s.unit, s.fc, ex))
	s.ready = true
	c.waiting--
}

// deliver matches a response to its request (mu held).
func (c *conn) deliver(u *upstream, f modbus.Frame) {
	tid := f.TransactionID()
	for i := 0; i < c.n; i++ {
		s := &c.ring.s[(c.head+i)%len(c.ring.s)]
		if s.up != u || s.ready || s.upTID != tid {
			continue
		}
		if f.Unit() != s.unit || (f.Function() != s.fc && f.Function() != s.fc|0x80) {
			c.emitSlot(&u.ev, modbus.EventUnsolicited, s, modbus.ReasonMismatched, 0, f, nil)
			return
		}
		s.n = copy(s.buf[:], f)
		modbus.Frame(s.buf[:s.n]).SetTransactionID(s.tid)
		s.ready = true
		c.waiting--
		c.armUpstream(u)
		c.flush()
		return
	}
	c.emitSlot(&u.ev, modbus.EventUnsolicited, nil, modbus.ReasonUnsolicited, 0, f, nil)
}

// expire answers the requests whose response time is over (mu held).
func (c *conn) expire(u *upstream, now time.Time) {
	for i := 0; i < c.n; i++ {
		s := &c.ring.s[(c.head+i)%len(c.ring.s)]
		if s.up == u && !s.ready && !s.deadline.After(now) {
			c.complete(s, modbus.ExGatewayTargetNoResponse)
			c.emitSlot(&u.ev, modbus.EventUpstreamTimeout, s, modbus.ReasonUpstreamTimeout, modbus.ExGatewayTargetNoResponse, nil, nil)
		}
	}
	c.armUpstream(u)
	c.flush()
}

// armUpstream sets the upstream read deadline to the earliest outstanding
// response deadline, or none (mu held).
func (c *conn) armUpstream(u *upstream) {
	var dl time.Time
	for i := 0; i < c.n && c.waiting > 0; i++ {
		s := &c.ring.s[(c.head+i)%len(c.ring.s)]
		if s.up == u && !s.ready && (dl.IsZero() || s.deadline.Before(dl)) {
			dl = s.deadline
		}
	}
	_ = u.c.SetReadDeadline(dl)
}

// closeLocked marks the connection closed and closes its sockets (mu held).
func (c *conn) closeLocked() {
	if c.closed {
		return
	}
	c.closed = true
	c.cond.Broadcast()
	c.c.Close()
	if c.up != nil {
		c.up.c.Close()
	}
}

// abort closes the connection at once (Proxy.Close).
func (c *conn) abort() {
	c.mu.Lock()
	c.closeLocked()
	c.mu.Unlock()
}

// reset closes the client connection with RST, and the device connection
// (Proxy.CloseConns).
func (c *conn) reset() {
	c.mu.Lock()
	if l, ok := c.c.(interface{ SetLinger(int) error }); ok && !c.closed {
		_ = l.SetLinger(0)
	}
	c.closeLocked()
	c.mu.Unlock()
}

// startDrain makes the reader stop reading new requests (Proxy.Shutdown).
func (c *conn) startDrain() {
	c.draining.Store(true)
	_ = c.c.SetReadDeadline(time.Now())
}

// finish releases everything once the reader loop has ended.
func (c *conn) finish() {
	c.mu.Lock()
	c.closeLocked()
	u := c.up
	c.up = nil
	c.mu.Unlock()
	if u != nil {
		<-u.done
	}
	c.mu.Lock()
	if c.ring != nil {
		c.p.slotPool.Put(c.ring)
		c.ring, c.n, c.head = nil, 0, 0
	}
	c.mu.Unlock()
	c.fr.Reset(nil, c.buf[:])
	c.p.bufPool.Put(c.buf)
	c.buf = nil
}
