package proxy

import (
	"context"
	"hash/maphash"
	"net/netip"
	"time"

	"github.com/zonegate/zonegate/protocols/inspect"
)

// DeviceSettings say how the engine shares connections to one device: a
// conduit's settings (DeviceConfigurer), over the engine's defaults
// (Config). Zero values take the defaults.
type DeviceSettings struct {
	// MaxConns is the number of connections the engine opens to one
	// device (address, port) at most, whatever the number of clients;
	// default 1.
	MaxConns int
	// MaxInFlight is the number of requests outstanding on one device
	// connection at most (1 for a device that answers one request at a
	// time); the others wait in their clients' queues. Default
	// Config.MaxOutstanding.
	MaxInFlight int
	// IdleTimeout closes a device connection that has had nothing
	// outstanding for that long; default 1 minute.
	IdleTimeout time.Duration
	// RedialAfter closes a device connection after that many requests
	// in a row timed out with no byte from the device (a half-open
	// device); the next request connects again. Default 2.
	RedialAfter int
	// FrameTimeout closes a device connection whose partial answer has
	// received no byte for that long; default Config.FrameTimeout.
	FrameTimeout time.Duration
}

// DeviceConfigurer is implemented by a codec whose policies carry device
// settings (Modbus: max_device_connections, max_in_flight,
// device_idle_timeout, redial_after_timeouts). The engine asks when it
// first connects to a device, with the policy of the client connection
// that asks for it.
type DeviceConfigurer interface {
	DeviceSettings(p Policy) DeviceSettings
}

// Defaults of DeviceSettings.
const (
	DefaultDeviceIdleTimeout = time.Minute
	DefaultRedialAfter       = 2
)

// pool is the connections to one device and the requests waiting for
// them. With a codec whose keys the engine renumbers (Framing.KeySpace >
// 0, not BoundDevice) a pool is shared by every client connection of its
// loop to the device (Admit puts them all on one loop): at most MaxConns
// device connections, requests taken round-robin from the clients'
// queues. Otherwise each client connection has a pool of its own (owner)
// with one device connection.
type pool struct {
	l        *loop
	e        *Engine
	upstream netip.AddrPort
	route    Route       // of the client that made the pool: names device events
	live     *livePolicy // its conduit's policy: the device settings
	owner    *conn       // the one client of a pool of its own; nil: shared
	set      DeviceSettings
	sess     Session // frames the device's stream
	check    AnswerChecker
	devs     []*device
	dialing  int
	dialFail time.Time // last failed connect
	gone     bool      // removed from its loop
	refs     int       // client connections that use it

	// clients with queued requests, served round-robin from next.
	clients []*conn
	next    int
	queued  int // requests in the clients' queues, not counting dead ones
}

// poolKey names a shared pool.
type poolKey = netip.AddrPort

// settings resolves a conduit's device settings.
func (e *Engine) settings(live *livePolicy) DeviceSettings {
	var s DeviceSettings
	if dc, ok := e.codec.(DeviceConfigurer); ok {
		if p := live.load(); p != nil {
			s = dc.DeviceSettings(p)
		}
	}
	cfg := &e.cfg
	if s.MaxConns <= 0 {
		s.MaxConns = cfg.MaxDeviceConns
	}
	if s.MaxInFlight <= 0 {
		s.MaxInFlight = cfg.MaxInFlight
	}
	if s.IdleTimeout <= 0 {
		s.IdleTimeout = cfg.DeviceIdleTimeout
	}
	if s.RedialAfter <= 0 {
		s.RedialAfter = cfg.RedialAfter
	}
	if s.FrameTimeout <= 0 {
		s.FrameTimeout = cfg.FrameTimeout
	}
	if !e.sharing() {
		s.MaxConns = 1
	}
	return s
}

// sharing reports whether client connections share device connections.
func (e *Engine) sharing() bool { return e.framing.KeySpace > 0 && !e.framing.BoundDevice }

var loopSeed = maphash.MakeSeed()

// loopFor is the loop of a new client connection: with shared device
// connections, the one of its device.
func (e *Engine) loopFor(upstream netip.AddrPort) *loop {
	if !e.sharing() {
		l := e.loops[e.nextLoop%len(e.loops)]
		e.nextLoop++
		return l
	}
	var h maphash.Hash
	h.SetSeed(loopSeed)
	b := upstream.Addr().As16()
	h.Write(b[:])
	h.WriteByte(byte(upstream.Port()))
	h.WriteByte(byte(upstream.Port() >> 8))
	return e.loops[h.Sum64()%uint64(len(e.loops))]
}

// poolOf returns the pool of a client connection, made on first use.
func (c *conn) poolOf() *pool {
	if c.pool != nil {
		return c.pool
	}
	l, e := c.l, c.e
	if e.sharing() {
		if p := l.shared[c.route.Upstream]; p != nil {
			c.pool = p
			p.refs++
			return p
		}
	}
	p := &pool{l: l, e: e, upstream: c.route.Upstream, route: c.route, live: c.live, set: e.settings(c.live)}
	if e.sharing() {
		p.sess = e.codec.NewSession(c.route)
		l.shared[c.route.Upstream] = p
	} else {
		p.owner, p.sess = c, c.sess
	}
	p.check, _ = p.sess.(AnswerChecker)
	l.pools[p] = struct{}{}
	c.pool = p
	p.refs++
	return p
}

// remove forgets an empty pool.
func (p *pool) remove() {
	if p.gone {
		return
	}
	p.gone = true
	delete(p.l.pools, p)
	if p.owner == nil && p.l.shared[p.upstream] == p {
		delete(p.l.shared, p.upstream)
	}
}

// pending is a request in a client's queue.
type pending struct {
	v        Verdict
	off, n   int // the frame in the client's qbuf
	deadline time.Time
	dead     bool // answered in the device's place while queued: never sent
}

// enqueue queues the request of c.v for the device; false when the
// client's queue is full.
func (c *conn) enqueue(f []byte) bool {
	if len(c.q)-c.qhead >= c.e.cfg.MaxQueued {
		return false
	}
	if c.qhead > 0 {
		// Move what is left to the front (a queue holds a few frames).
		off := c.q[c.qhead].off
		n := copy(c.qbuf, c.qbuf[off:])
		c.qbuf = c.qbuf[:n]
		k := copy(c.q, c.q[c.qhead:])
		c.q = c.q[:k]
		for i := range c.q {
			c.q[i].off -= off
		}
		c.qhead = 0
	}
	timeout := c.v.Timeout
	if timeout <= 0 {
		timeout = c.e.cfg.ResponseTimeout
	}
	pd := pending{v: c.v, off: len(c.qbuf), n: len(f)}
	if pairs(c.v.Pairing) {
		pd.deadline = c.l.now.Add(timeout)
		c.l.arm(pd.deadline)
	}
	c.qbuf = append(c.qbuf, f...)
	c.q = append(c.q, pd)
	c.n++
	p := c.pool
	p.queued++
	if !c.inRing {
		c.inRing = true
		p.clients = append(p.clients, c)
	}
	return true
}

// pairs reports whether a request waits for an answer.
func pairs(p Pairing) bool { return p == ByKey || p == InOrder }

// unqueue drops the client's queued requests and takes it out of the
// round (the client closes).
func (c *conn) unqueue() {
	p := c.pool
	if p == nil {
		return
	}
	for i := c.qhead; i < len(c.q); i++ {
		if !c.q[i].dead {
			p.queued--
		}
	}
	c.q, c.qhead, c.qbuf = c.q[:0], 0, c.qbuf[:0]
	if c.inRing {
		p.leave(c)
	}
}

// leave takes c out of the round.
func (p *pool) leave(c *conn) {
	c.inRing = false
	for i, x := range p.clients {
		if x == c {
			copy(p.clients[i:], p.clients[i+1:])
			p.clients[len(p.clients)-1] = nil
			p.clients = p.clients[:len(p.clients)-1]
			if p.next > i {
				p.next--
			}
			break
		}
	}
	if p.next >= len(p.clients) {
		p.next = 0
	}
}

// pump sends queued requests while a device connection has room for them,
// taking one request per client in turn; it connects when there is no
// room and MaxConns allows another connection.
func (p *pool) pump() {
	p.take()
	p.flush()
}

// take is pump without the write: the requests go into the device
// connections' buffers.
func (p *pool) take() {
	for p.queued > 0 {
		d := p.room()
		if d == nil {
			if len(p.devs)+p.dialing < p.set.MaxConns && p.dialing == 0 {
				p.dial()
			}
			break
		}
		c := p.clients[p.next]
		pd := &c.q[c.qhead]
		c.qhead++
		if !pd.dead {
			p.queued--
		}
		f := c.qbuf[pd.off : pd.off+pd.n : pd.off+pd.n] // stays until the next enqueue
		if c.qhead == len(c.q) {
			c.q, c.qhead, c.qbuf = c.q[:0], 0, c.qbuf[:0]
			p.leave(c)
		} else {
			p.next = (p.next + 1) % len(p.clients)
		}
		if !pd.dead {
			d.send(c, pd, f)
		}
	}
}

// room returns the device connection with the fewest requests
// outstanding that takes another one, nil when none does.
func (p *pool) room() *device {
	var best *device
	for _, d := range p.devs {
		if d.stalled || d.waiting >= p.set.MaxInFlight || len(d.free) == 0 && !d.hasExpired() {
			continue
		}
		if best == nil || d.waiting < best.waiting {
			best = d
		}
	}
	return best
}

// flush writes what the device connections have to send.
func (p *pool) flush() {
	for i := 0; i < len(p.devs); i++ {
		d := p.devs[i]
		if len(d.out) > 0 && !d.stalled {
			if err := p.l.writeOut(d.fd, &d.out, &d.outSince, &d.stalled); err != nil {
				d.close(ReasonUpstreamClosed, true)
				i--
			}
		}
	}
}

// dial connects to the device in a goroutine. Its timeout is the dial
// timeout, or the time left to the first queued request if that is
// shorter: no request waits for a dial beyond its own deadline.
func (p *pool) dial() {
	if !p.dialFail.IsZero() && p.l.now.Sub(p.dialFail) < redialBackoff {
		// Do not hammer an unreachable device.
		p.unreachable()
		return
	}
	e, l := p.e, p.l
	p.set = e.settings(p.live) // a reload may have changed them
	timeout := e.cfg.DialTimeout
	if first := p.firstDeadline(); !first.IsZero() {
		timeout = min(timeout, max(first.Sub(l.now), time.Millisecond))
	}
	p.dialing++
	addr := p.upstream.String()
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		ctx, cancel := context.WithTimeout(e.ctx, timeout)
		nc, err := e.cfg.Dial(ctx, "tcp", addr)
		cancel()
		fd := -1
		if err == nil {
			fd, err = takeFD(nc)
		}
		if !l.post(func() { p.dialed(fd, err) }) {
			closeFD(fd)
		}
	}()
}

// firstDeadline is the earliest deadline of the queued requests.
func (p *pool) firstDeadline() time.Time {
	var t time.Time
	for _, c := range p.clients {
		for i := c.qhead; i < len(c.q); i++ {
			if d := c.q[i].deadline; !c.q[i].dead && !d.IsZero() && (t.IsZero() || d.Before(t)) {
				t = d
			}
		}
	}
	return t
}

// dialed takes the outcome of dial.
func (p *pool) dialed(fd int, err error) {
	p.dialing--
	if p.gone {
		closeFD(fd)
		return
	}
	if err == nil {
		d := newDevice(p, fd)
		if err = p.l.register(fd, d); err != nil {
			closeFD(fd)
		} else {
			p.devs = append(p.devs, d)
			p.dialFail = time.Time{}
			p.pump()
			p.settleClients()
			return
		}
	}
	p.dialFail = p.l.now
	if len(p.devs) == 0 {
		p.unreachable()
	}
	p.settleClients()
}

// unreachable answers every queued request with AnswerUnreachable; a
// client bound to its device connection closes after it.
func (p *pool) unreachable() {
	for len(p.clients) > 0 {
		c := p.clients[0]
		for i := c.qhead; i < len(c.q); i++ {
			pd := &c.q[i]
			if pd.dead {
				continue
			}
			if !pd.deadline.IsZero() && !pd.deadline.After(p.l.now) {
				// Its time ran out with the connect (which it bounds):
				// no answer in time, as if it had been sent.
				c.report(inspect.Failure, ReasonUpstreamTimeout, false, &pd.v.Record, nil)
				c.answer(&pd.v.Record, AnswerNoResponse)
			} else {
				c.report(inspect.Failure, ReasonUpstreamDial, pd.v.Monitor, &pd.v.Record, nil)
				c.answer(&pd.v.Record, AnswerUnreachable)
			}
			c.n--
		}
		c.unqueue()
		if p.e.framing.BoundDevice {
			c.closing = true
		}
		c.touch()
	}
	p.queued = 0
}

// settleClients lets the clients the pool answered write their answers.
func (p *pool) settleClients() {
	if p.owner != nil {
		p.owner.touch()
	}
}

// expire acts on the pool's deadlines: queued requests whose time is up
// are answered AnswerNoResponse, device connections act on theirs, and an
// idle device connection closes.
func (p *pool) expire(due func(time.Time) bool) {
	p.set = p.e.settings(p.live) // a reload may have changed them
	for i := 0; i < len(p.clients); i++ {
		c := p.clients[i]
		for j := c.qhead; j < len(c.q); j++ {
			pd := &c.q[j]
			if pd.dead || pd.deadline.IsZero() || !due(pd.deadline) {
				continue
			}
			c.answer(&pd.v.Record, AnswerNoResponse)
			c.report(inspect.Failure, ReasonUpstreamTimeout, false, &pd.v.Record, nil)
			pd.dead = true // answered: never sent
			p.queued--
			c.n--
			c.touch()
		}
	}
	for i := 0; i < len(p.devs); i++ {
		d := p.devs[i]
		if d.expire(due) {
			i--
		}
	}
	p.pump()
	if p.refs == 0 && len(p.devs) == 0 && p.dialing == 0 {
		p.remove()
	}
}

// closeAll closes the pool's device connections (its owner closes, or the
// loop stops), sending what is due first.
func (p *pool) closeAll() {
	for len(p.devs) > 0 {
		d := p.devs[0]
		if len(d.out) > 0 {
			_, _ = rawWrite(d.fd, d.out)
		}
		d.detach()
	}
	p.remove()
}

// fill sets the device's part of an event about no one request.
func (p *pool) fill(ev *inspect.Event) {
	if p.owner != nil {
		p.owner.fill(ev, false)
		return
	}
	ev.Destination, ev.Conduit, ev.Role = p.upstream, p.route.Conduit, p.route.Identity.Role
}

// forget drops the answers a closed client still waits for: the device
// connections stay, and the answers are dropped when they come.
func (p *pool) forget(c *conn) {
	for _, d := range p.devs {
		if d.waiting == 0 && d.expired == 0 {
			continue
		}
		for i := range d.slots {
			if s := &d.slots[i]; s.client == c {
				s.client = nil
			}
		}
	}
}
