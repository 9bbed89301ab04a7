package modbusproxy

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/zonegate/zonegate/protocols/modbus"
	"github.com/zonegate/zonegate/protocols/proxy"
)

// Route is where the proxy sends one client connection and under which
// rules.
type Route struct {
	Upstream netip.AddrPort // the device to connect to
	Conduit  string         // name for events and counters
	Policy   *modbus.LivePolicy
}

// DefaultResponseTimeout is how long a device has to answer a forwarded
// request when neither the conduit's policy nor Config sets a time.
const DefaultResponseTimeout = time.Second

// Config configures a Proxy. Zero durations and limits take the defaults
// noted.
type Config struct {
	// Route decides, for an accepted client connection, where to forward
	// it and under which policy. In transparent mode it calls
	// OriginalDestination on the *net.TCPConn and looks up the conduit.
	// An error refuses the connection (reported as EventConnRefused).
	// Required.
	Route func(client net.Conn) (Route, error)
	// Sink receives events; nil: events are only counted.
	Sink modbus.EventSink
	// Counters receives the request and event counts; nil: a new set
	// (see Proxy.Counters).
	Counters *modbus.Counters
	// Dial connects to upstream devices; nil: a net.Dialer. The
	// connection it returns must be a TCP connection (a syscall.Conn):
	// the proxy serves it from its event loops.
	Dial func(ctx context.Context, network, address string) (net.Conn, error)
	// Log receives operational messages (accept errors); nil: none.
	Log *zap.Logger
	// Now is the clock of the rate limiter and of event times; nil:
	// time.Now. Deadlines always use time.Now.
	Now func() time.Time

	MaxConns          int           // open client connections in total; default 1024
	MaxConnsPerSource int           // open client connections per source IP address; default 32
	MaxOutstanding    int           // requests per connection awaiting their response; default 16
	IdleTimeout       time.Duration // client connection without any request; default 5 min
	FrameTimeout      time.Duration // time to receive the rest of a started frame; default 10 s
	// ResponseTimeout is the device's time to answer a request before
	// exception 0x0B, for policies without a response timeout of their
	// own (modbus.Spec.ResponseTimeout); default DefaultResponseTimeout.
	ResponseTimeout time.Duration
	DialTimeout     time.Duration // connecting to the device before exception 0x0A; default 3 s
	WriteTimeout    time.Duration // a peer taking bytes we send; default 10 s
	// Loops is the number of event loops serving the connections; default
	// GOMAXPROCS (as set before any proxy started). Each running loop
	// raises GOMAXPROCS by one while it runs (see holdProcs).
	Loops int
}

func (c *Config) setDefaults() {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	defDur := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&c.MaxConns, 1024)
	def(&c.MaxConnsPerSource, 32)
	def(&c.MaxOutstanding, 16)
	def(&c.Loops, programProcs())
	defDur(&c.IdleTimeout, 5*time.Minute)
	defDur(&c.FrameTimeout, 10*time.Second)
	defDur(&c.ResponseTimeout, DefaultResponseTimeout)
	defDur(&c.DialTimeout, 3*time.Second)
	defDur(&c.WriteTimeout, 10*time.Second)
	if c.Counters == nil {
		c.Counters = &modbus.Counters{}
	}
	if c.Dial == nil {
		c.Dial = (&net.Dialer{}).DialContext
	}
	if c.Log == nil {
		c.Log = zap.NewNop()
	}
}

// ErrProxyClosed is returned by Serve after Shutdown or Close; it is
// proxy.ErrClosed, so callers of the neutral contract recognise it.
var ErrProxyClosed = proxy.ErrClosed

// Proxy is a Modbus/TCP deep-inspection proxy. For every client connection
// it checks each request against the connection's policy, forwards allowed
// requests over its own connection to the device (opened at the first
// forwarded request), and answers denied ones with an exception or a reset.
// Up to MaxOutstanding requests per connection are pipelined to the
// device; each answer goes to the client as soon as it arrives and matches
// an outstanding request, and a request the device leaves unanswered gets
// exception 0x0B at its own deadline without holding up the others.
//
// Connections are served by a few event loops (one per CPU by default)
// over epoll, client and device sides alike, with deadlines and bounded
// buffers per connection, so a slow or malicious client holds up nobody
// else and no connection costs a goroutine.
type Proxy struct {
	cfg       Config
	ctx       context.Context // cancelled by Close: aborts dials
	cancel    context.CancelFunc
	mu        sync.Mutex
	closing   bool
	listeners map[net.Listener]struct{}
	conns     map[*conn]struct{}
	perSource map[netip.Addr]int
	loops     []*loop
	nextLoop  int
	loopErr   error
	wg        sync.WaitGroup // one per admitted connection
	refusedEv sync.Mutex     // guards refEv
	refEv     modbus.Event
}

// New returns a proxy; call Serve to run it.
func New(cfg Config) (*Proxy, error) {
	if cfg.Route == nil {
		return nil, errors.New("modbus: proxy config has no Route function: set one that returns the upstream and policy for a connection")
	}
	cfg.setDefaults()
	p := &Proxy{cfg: cfg, listeners: map[net.Listener]struct{}{}, conns: map[*conn]struct{}{}, perSource: map[netip.Addr]int{}}
	p.ctx, p.cancel = context.WithCancel(context.Background())
	return p, nil
}

// Counters returns the proxy's counters.
func (p *Proxy) Counters() *modbus.Counters { return p.cfg.Counters }

// ActiveConns returns the number of open client connections.
func (p *Proxy) ActiveConns() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.conns)
}

func (p *Proxy) now() time.Time {
	if p.cfg.Now != nil {
		return p.cfg.Now()
	}
	return time.Now()
}

// startLoops starts the event loops once (p.mu held).
func (p *Proxy) startLoops() error {
	if p.loops != nil || p.loopErr != nil {
		return p.loopErr
	}
	for range p.cfg.Loops {
		l, err := newLoop(p)
		if err != nil {
			for _, l := range p.loops {
				l.stop()
			}
			p.loops = nil
			p.loopErr = fmt.Errorf("modbus proxy: start event loop: %w", err)
			return p.loopErr
		}
		p.loops = append(p.loops, l)
	}
	holdProcs(len(p.loops))
	for _, l := range p.loops {
		go l.run()
	}
	return nil
}

// Serve accepts client connections on ln until ln fails or the proxy is
// shut down; then it returns ErrProxyClosed or the accept error. Serve may
// be called for several listeners.
func (p *Proxy) Serve(ln net.Listener) error {
	p.mu.Lock()
	if p.closing {
		p.mu.Unlock()
		return ErrProxyClosed
	}
	if err := p.startLoops(); err != nil {
		p.mu.Unlock()
		return err
	}
	p.listeners[ln] = struct{}{}
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		delete(p.listeners, ln)
		p.mu.Unlock()
	}()
	var backoff time.Duration
	for {
		c, err := ln.Accept()
		if err != nil {
			p.mu.Lock()
			closing := p.closing
			p.mu.Unlock()
			if closing {
				return ErrProxyClosed
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || isTemporaryAccept(err) {
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				p.cfg.Log.Warn("modbus proxy: accept failed, retrying", zap.Error(err), zap.Duration("backoff", backoff))
				time.Sleep(backoff)
				continue
			}
			return fmt.Errorf("modbus proxy: accept: %w", err)
		}
		backoff = 0
		p.admit(c)
	}
}

// isTemporaryAccept reports accept errors worth retrying (EMFILE, ENFILE,
// ECONNABORTED and the like): everything but a closed listener.
func isTemporaryAccept(err error) bool { return !errors.Is(err, net.ErrClosed) }

// admit routes an accepted client connection, applies the connection
// limits and hands the connection to an event loop.
func (p *Proxy) admit(nc net.Conn) {
	src := addrPort(nc.RemoteAddr())
	route, err := p.cfg.Route(nc)
	if err == nil && route.Policy == nil {
		err = errors.New("route has no policy")
	}
	if err != nil {
		p.refuse(nc, route.Conduit, src, route.Upstream, modbus.ReasonResolve, err)
		return
	}
	key := src.Addr().Unmap()
	p.mu.Lock()
	switch {
	case p.closing:
		p.mu.Unlock()
		nc.Close()
		return
	case len(p.conns) >= p.cfg.MaxConns:
		p.mu.Unlock()
		p.refuse(nc, route.Conduit, src, route.Upstream, modbus.ReasonConnLimitTotal, nil)
		return
	case p.perSource[key] >= p.cfg.MaxConnsPerSource:
		p.mu.Unlock()
		p.refuse(nc, route.Conduit, src, route.Upstream, modbus.ReasonConnLimitSource, nil)
		return
	}
	fd, err := takeFD(nc)
	if err != nil {
		p.mu.Unlock()
		p.cfg.Log.Warn("modbus proxy: client connection dropped", zap.Error(err))
		nc.Close()
		return
	}
	l := p.loops[p.nextLoop%len(p.loops)]
	p.nextLoop++
	c := newConn(l, fd, route, src, p.cfg.Counters.Conduit(route.Conduit))
	p.conns[c] = struct{}{}
	p.perSource[key]++
	p.wg.Add(1)
	p.mu.Unlock()
	l.post(func() { l.addConn(c) })
}

// release forgets a closed connection (called by its loop).
func (p *Proxy) release(c *conn) {
	key := c.src.Addr().Unmap()
	p.mu.Lock()
	delete(p.conns, c)
	if p.perSource[key]--; p.perSource[key] <= 0 {
		delete(p.perSource, key)
	}
	p.mu.Unlock()
	p.wg.Done()
}

// refuse closes a connection that is not admitted, with a reset so refused
// floods leave no TIME_WAIT state behind.
func (p *Proxy) refuse(nc net.Conn, conduit string, src, dst netip.AddrPort, reason modbus.Reason, err error) {
	resetConn(nc)
	p.cfg.Counters.Conduit(conduit).Event(modbus.EventConnRefused)
	if p.cfg.Sink == nil {
		return
	}
	p.refusedEv.Lock()
	defer p.refusedEv.Unlock()
	p.refEv = modbus.Event{Kind: modbus.EventConnRefused, Time: p.now(), Source: src, Destination: dst, Conduit: conduit, Reason: reason, Err: err}
	p.cfg.Sink.ModbusEvent(&p.refEv)
}

// resetConn closes a TCP connection with RST instead of FIN.
func resetConn(nc net.Conn) {
	if l, ok := nc.(interface{ SetLinger(int) error }); ok {
		_ = l.SetLinger(0)
	}
	_ = nc.Close()
}

func addrPort(a net.Addr) netip.AddrPort {
	if t, ok := a.(*net.TCPAddr); ok {
		ap := t.AddrPort()
		return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
	}
	return netip.AddrPort{}
}

// CloseConns resets the client connections for which match returns true,
// and their device connections: a reloaded model that no longer allows a
// connection ends it at once instead of leaving it to the idle timeout. It
// returns how many connections it closed.
func (p *Proxy) CloseConns(match func(r Route, client netip.AddrPort) bool) int {
	p.mu.Lock()
	var victims []*conn
	for c := range p.conns {
		if match(c.route, c.src) {
			victims = append(victims, c)
		}
	}
	p.mu.Unlock()
	var wg sync.WaitGroup
	for _, c := range victims {
		wg.Add(1)
		if !c.l.post(func() {
			defer wg.Done()
			c.close(true)
		}) {
			wg.Done()
		}
	}
	wg.Wait()
	return len(victims)
}

// Shutdown stops accepting connections, stops reading new requests, lets
// every connection receive the responses of the requests already read and
// closes it. If ctx ends first, Shutdown closes the rest (as Close) and
// returns ctx's error.
func (p *Proxy) Shutdown(ctx context.Context) error {
	p.mu.Lock()
	p.closing = true
	for ln := range p.listeners {
		ln.Close()
	}
	for c := range p.conns {
		c.l.post(c.startDrain)
	}
	p.mu.Unlock()
	done := make(chan struct{})
	go func() {
		p.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		p.cancel()
		p.stopLoops()
		return nil
	case <-ctx.Done():
		p.Close()
		return ctx.Err()
	}
}

// Close closes the listeners and all connections at once and waits until
// they are gone.
func (p *Proxy) Close() error {
	p.mu.Lock()
	p.closing = true
	p.cancel()
	for ln := range p.listeners {
		ln.Close()
	}
	for c := range p.conns {
		c.l.post(func() { c.close(false) })
	}
	p.mu.Unlock()
	p.wg.Wait()
	p.stopLoops()
	return nil
}

// stopLoops ends the event loops once every connection is gone.
func (p *Proxy) stopLoops() {
	p.mu.Lock()
	loops := p.loops
	p.loops = nil
	p.loopErr = ErrProxyClosed
	p.mu.Unlock()
	for _, l := range loops {
		l.stop()
	}
	if len(loops) > 0 {
		releaseProcs(len(loops))
	}
}
