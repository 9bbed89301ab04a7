package proxy

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/zonegate/zonegate/protocols/inspect"
)

// Engine is the proxy of one protocol: it accepts client connections,
// admits them under the connection limits, serves them from its event
// loops with the Codec, forwards allowed requests over its own connection
// to the device, and answers the others as the codec says. It implements
// Proxy.
type Engine struct {
	cfg     Config
	codec   Codec
	framing Framing
	proto   inspect.Protocol
	feed    *inspect.Feed
	ctx     context.Context // cancelled by Close: aborts dials
	cancel  context.CancelFunc

	// mu guards admission: the engine's own lock, held for map updates
	// only, never while calling out (Route, match functions) or doing
	// I/O. A loop takes it when a connection closes.
	mu        sync.Mutex
	closing   bool
	listeners map[net.Listener]struct{}
	conns     map[*conn]struct{}
	perSource map[netip.Addr]int
	nextLoop  int
	active    atomic.Int64
	wg        sync.WaitGroup // admitted connections and dials

	loops    []*loop
	stopOnce sync.Once

	policies policies
	counters counters
}

var _ Proxy = (*Engine)(nil)

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
	def(&c.MaxQueued, c.MaxOutstanding)
	def(&c.MaxDeviceConns, 1)
	def(&c.MaxInFlight, c.MaxOutstanding)
	def(&c.RedialAfter, DefaultRedialAfter)
	defDur(&c.DeviceIdleTimeout, DefaultDeviceIdleTimeout)
	def(&c.Loops, runtime.GOMAXPROCS(0))
	def(&c.EventQueue, 1024)
	defDur(&c.IdleTimeout, 5*time.Minute)
	defDur(&c.FrameTimeout, 10*time.Second)
	defDur(&c.ResponseTimeout, DefaultResponseTimeout)
	defDur(&c.DialTimeout, 3*time.Second)
	defDur(&c.WriteTimeout, 10*time.Second)
	if c.Dial == nil {
		c.Dial = (&net.Dialer{}).DialContext
	}
	if c.Log == nil {
		c.Log = zap.NewNop()
	}
}

// New returns a running engine for codec: its event loops wait for
// connections from Serve and Admit. Close or Shutdown stops it.
func New(cfg Config, codec Codec) (*Engine, error) {
	if codec == nil {
		return nil, errors.New("proxy: no codec: give New the codec of the protocol the proxy inspects")
	}
	cfg.setDefaults()
	fr := codec.Framing()
	if fr.MaxRequest <= 0 || fr.MaxAnswer <= 0 {
		return nil, fmt.Errorf("proxy: codec %s gives no frame size limits (Framing.MaxRequest %d, MaxAnswer %d)", codec.Protocol().Name, fr.MaxRequest, fr.MaxAnswer)
	}
	e := &Engine{cfg: cfg, codec: codec, framing: fr, proto: codec.Protocol(),
		listeners: map[net.Listener]struct{}{}, conns: map[*conn]struct{}{}, perSource: map[netip.Addr]int{}}
	e.ctx, e.cancel = context.WithCancel(context.Background())
	e.feed = inspect.NewFeed(cfg.Loops, cfg.EventQueue, codec.Details)
	for i := range cfg.Loops {
		l, err := newLoop(e, e.feed.Queue(i))
		if err != nil {
			for _, l := range e.loops {
				l.stop()
			}
			e.cancel()
			return nil, fmt.Errorf("%s proxy: start event loop: %w", e.proto.Title, err)
		}
		e.loops = append(e.loops, l)
		go l.run()
	}
	return e, nil
}

// Events implements Proxy.
func (e *Engine) Events() *inspect.Feed { return e.feed }

// ActiveConns implements Proxy.
func (e *Engine) ActiveConns() int { return int(e.active.Load()) }

// now is the clock of rate limits and events.
func (e *Engine) now(loopNow time.Time) time.Time {
	if e.cfg.Now != nil {
		return e.cfg.Now()
	}
	return loopNow
}

// Serve implements Proxy. It may be called for several listeners.
func (e *Engine) Serve(ln net.Listener) error {
	if e.cfg.Route == nil {
		return fmt.Errorf("%s proxy: config has no Route function: set one that returns the upstream and conduit of a connection", e.proto.Title)
	}
	e.mu.Lock()
	if e.closing {
		e.mu.Unlock()
		return ErrClosed
	}
	e.listeners[ln] = struct{}{}
	e.mu.Unlock()
	defer func() {
		e.mu.Lock()
		delete(e.listeners, ln)
		e.mu.Unlock()
	}()
	var backoff time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			e.mu.Lock()
			closing := e.closing
			e.mu.Unlock()
			if closing {
				return ErrClosed
			}
			if !errors.Is(err, net.ErrClosed) {
				// EMFILE, ENFILE, ECONNABORTED and the like: retry.
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				e.cfg.Log.Warn(e.proto.Title+" proxy: accept failed, retrying", zap.Error(err), zap.Duration("backoff", backoff))
				time.Sleep(backoff)
				continue
			}
			return fmt.Errorf("%s proxy: accept: %w", e.proto.Title, err)
		}
		backoff = 0
		src := addrPort(nc.RemoteAddr())
		r, err := e.cfg.Route(nc)
		if err != nil {
			e.refuse(nc, src, r, ReasonNoRoute)
			continue
		}
		_ = e.Admit(nc, src, r)
	}
}

// Admit implements Proxy: it applies the connection limits, takes the
// socket out of nc and hands it to an event loop. A refused connection is
// reset and reported.
func (e *Engine) Admit(nc net.Conn, client netip.AddrPort, r Route) error {
	client = netip.AddrPortFrom(client.Addr().Unmap(), client.Port())
	r.Upstream = netip.AddrPortFrom(r.Upstream.Addr().Unmap(), r.Upstream.Port())
	live := e.policies.live(r.Conduit)
	if live == nil {
		e.refuse(nc, client, r, ReasonNoRoute)
		return fmt.Errorf("%s proxy: conduit %q has no policy installed", e.proto.Title, r.Conduit)
	}
	key := client.Addr()
	e.mu.Lock()
	switch {
	case e.closing:
		e.mu.Unlock()
		nc.Close()
		return ErrClosed
	case int(e.active.Load()) >= e.cfg.MaxConns:
		e.mu.Unlock()
		e.refuse(nc, client, r, ReasonConnLimitTotal)
		return errors.New(ReasonConnLimitTotal)
	case e.perSource[key] >= e.cfg.MaxConnsPerSource:
		e.mu.Unlock()
		e.refuse(nc, client, r, ReasonConnLimitSource)
		return errors.New(ReasonConnLimitSource)
	}
	e.perSource[key]++
	e.active.Add(1)
	l := e.loopFor(r.Upstream)
	e.wg.Add(1)
	e.mu.Unlock()

	fd, err := takeFD(nc)
	c := &conn{l: l, e: e, fd: fd, route: r, src: client, live: live, ctrs: e.counters.conduit(r.Conduit)}
	if err == nil {
		c.sess = e.codec.NewSession(r)
		c.init()
		e.mu.Lock()
		e.conns[c] = struct{}{}
		e.mu.Unlock()
		if l.post(func() { l.addConn(c) }) {
			return nil
		}
		err = ErrClosed
		closeFD(fd)
	}
	e.release(c)
	e.cfg.Log.Warn(e.proto.Title+" proxy: client connection dropped", zap.Error(err))
	return err
}

// release forgets a closed connection.
func (e *Engine) release(c *conn) {
	key := c.src.Addr()
	e.mu.Lock()
	delete(e.conns, c)
	if e.perSource[key]--; e.perSource[key] <= 0 {
		delete(e.perSource, key)
	}
	e.mu.Unlock()
	e.active.Add(-1)
	e.wg.Done()
}

// refuse resets a connection that is not admitted (so that refused floods
// leave no TIME_WAIT behind) and reports it.
func (e *Engine) refuse(nc net.Conn, src netip.AddrPort, r Route, reason string) {
	resetConn(nc)
	ev := inspect.Event{Protocol: e.proto.Name, Kind: inspect.Refused, Time: e.now(time.Now()), Source: src,
		Destination: r.Upstream, Conduit: r.Conduit, Role: r.Identity.Role, Reason: reason}
	e.feed.Push(&ev)
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

// CloseConns implements Proxy: a reloaded model that no longer allows a
// connection ends it at once instead of leaving it to the idle timeout.
func (e *Engine) CloseConns(match func(r Route, client netip.AddrPort) bool) int {
	e.mu.Lock()
	all := make([]*conn, 0, len(e.conns))
	for c := range e.conns {
		all = append(all, c)
	}
	e.mu.Unlock()
	var wg sync.WaitGroup
	n := 0
	for _, c := range all {
		if !match(c.route, c.src) {
			continue
		}
		n++
		wg.Add(1)
		if !c.l.post(func() {
			defer wg.Done()
			c.close(true)
		}) {
			wg.Done()
		}
	}
	wg.Wait()
	// Device connections no client uses any more go too: the conduit
	// that led to them may be gone.
	for _, l := range e.loops {
		done := make(chan struct{})
		if l.post(func() {
			defer close(done)
			for p := range l.pools {
				if p.refs == 0 {
					p.closeAll()
				}
			}
		}) {
			<-done
		}
	}
	return n
}

// Shutdown implements Proxy: it stops accepting connections, stops
// reading new requests, lets every connection receive the answers of the
// requests already read and closes it. If ctx ends first, Shutdown closes
// the rest (as Close) and returns ctx's error.
func (e *Engine) Shutdown(ctx context.Context) error {
	e.mu.Lock()
	e.closing = true
	for ln := range e.listeners {
		ln.Close()
	}
	for c := range e.conns {
		c.l.post(c.startDrain)
	}
	e.mu.Unlock()
	done := make(chan struct{})
	go func() {
		e.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		e.stop()
		return nil
	case <-ctx.Done():
		e.Close()
		return ctx.Err()
	}
}

// Close closes the listeners and all connections at once and waits until
// they are gone.
func (e *Engine) Close() error {
	e.mu.Lock()
	e.closing = true
	e.cancel()
	for ln := range e.listeners {
		ln.Close()
	}
	for c := range e.conns {
		c.l.post(func() { c.close(false) })
	}
	e.mu.Unlock()
	e.wg.Wait()
	e.stop()
	return nil
}

// stop ends the event loops once every connection is gone, and closes
// the event feed.
func (e *Engine) stop() {
	e.stopOnce.Do(func() {
		e.cancel()
		for _, l := range e.loops {
			l.stop()
		}
		e.feed.Close()
	})
}

// Install implements Proxy. Live policies are updated in place, so open
// connections use the new policy from their next request; a conduit that
// disappears keeps a live policy holding nil, which the codec denies
// everything under.
func (e *Engine) Install(ps map[string]Policy) error {
	for name, p := range ps {
		if err := e.codec.CheckPolicy(p); err != nil {
			return fmt.Errorf("%s proxy: the policy of conduit %s: %w", e.proto.Title, name, err)
		}
	}
	e.policies.install(ps)
	return nil
}

// Requests implements Proxy.
func (e *Engine) Requests() []inspect.RequestCount {
	var name func(uint8) string
	if n, ok := e.codec.(OpNamer); ok {
		name = n.OpName
	}
	return e.counters.snapshot(e.proto.Name, name)
}
