package proxy

import (
	"context"
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zonegate/zonegate/protocols/inspect"
)

// hang is the generous bound that only keeps a broken test from hanging;
// no test passes or fails on timing.
const hang = 20 * time.Second

const toyConduit = "toy-conduit"

// evLog collects copies of the events of a feed, drained as the event
// pipeline drains them.
type evLog struct {
	mu  sync.Mutex
	evs []inspect.Event
}

func followFeed(feed *inspect.Feed) *evLog {
	l := &evLog{}
	take := func(ev *inspect.Event) {
		l.mu.Lock()
		l.evs = append(l.evs, *ev)
		l.mu.Unlock()
	}
	go feed.Follow(take)
	return l
}

func (l *evLog) all() []inspect.Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]inspect.Event(nil), l.evs...)
}

// count sums the events of kind and reason.
func (l *evLog) count(kind inspect.EventKind, reason string) int {
	n := 0
	for _, ev := range l.all() {
		if ev.Kind == kind && ev.Reason == reason {
			n += int(ev.N())
		}
	}
	return n
}

// wait waits until count(kind, reason) reaches n.
func (l *evLog) wait(t testing.TB, kind inspect.EventKind, reason string, n int) {
	t.Helper()
	waitUntil(t, reason+" events", func() bool { return l.count(kind, reason) >= n })
}

func waitUntil(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(hang)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// toyEnv is an engine with the toy codec in front of a toy device.
type toyEnv struct {
	t      testing.TB
	e      *Engine
	addr   string
	dev    *toyDevice
	events *evLog
	served chan error
}

func newToy(t testing.TB, codec toyCodec, serve func(int, []byte, func(...[]byte)), tweak func(*Config)) *toyEnv {
	t.Helper()
	env := &toyEnv{t: t, served: make(chan error, 1)}
	upstream := netip.MustParseAddrPort("127.0.0.1:1") // nothing listens: unreachable
	if serve != nil {
		env.dev = startToyDevice(t, serve)
		upstream = netip.MustParseAddrPort(env.dev.addr)
	}
	cfg := Config{Route: func(net.Conn) (Route, error) { return Route{Upstream: upstream, Conduit: toyConduit}, nil }}
	if tweak != nil {
		tweak(&cfg)
	}
	e, err := New(cfg, codec)
	require.NoError(t, err)
	t.Cleanup(func() { e.Close() })
	env.e = e
	env.events = followFeed(e.Events())
	require.NoError(t, e.Install(map[string]Policy{toyConduit: toyPolicy{}}))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	env.addr = ln.Addr().String()
	go func() { env.served <- e.Serve(ln) }()
	return env
}

// requests sums the engine's request counters of a verdict.
func (env *toyEnv) requests(verdict string) uint64 {
	return inspect.Requests(env.e.Requests(), verdict)
}

// toyClient speaks the toy protocol to the engine.
type toyClient struct {
	t testing.TB
	c net.Conn
}

func (env *toyEnv) dial() *toyClient {
	env.t.Helper()
	c, err := net.DialTimeout("tcp", env.addr, hang)
	require.NoError(env.t, err)
	env.t.Cleanup(func() { c.Close() })
	return &toyClient{t: env.t, c: c}
}

func (tc *toyClient) send(bodies ...[]byte) {
	tc.t.Helper()
	var out []byte
	for _, b := range bodies {
		out = toyFrame(out, b...)
	}
	tc.c.SetWriteDeadline(time.Now().Add(hang))
	_, err := tc.c.Write(out)
	require.NoError(tc.t, err)
}

func (tc *toyClient) recv() string {
	tc.t.Helper()
	tc.c.SetReadDeadline(time.Now().Add(hang))
	b, err := readToy(tc.c)
	require.NoError(tc.t, err, "reading an answer")
	return string(b)
}

func (tc *toyClient) roundTrip(body string) string {
	tc.t.Helper()
	tc.send([]byte(body))
	return tc.recv()
}

// end reads until the engine ends the connection and returns how.
func (tc *toyClient) end() error {
	tc.t.Helper()
	tc.c.SetReadDeadline(time.Now().Add(hang))
	_, err := io.Copy(io.Discard, tc.c)
	if err == nil {
		return io.EOF
	}
	var ne net.Error
	require.False(tc.t, errors.As(err, &ne) && ne.Timeout(), "the engine did not end the connection")
	return err
}

// hello opens a connection past the toy's handshake.
func (env *toyEnv) hello() *toyClient {
	c := env.dial()
	require.Equal(env.t, "h", c.roundTrip("H"))
	return c
}

// TestEngineInOrder: a handshake, then pipelined requests paired in order,
// a write reported with its details off the loop, counters per request
// type and verdict.
func TestEngineInOrder(t *testing.T) {
	env := newToy(t, toyCodec{}, echoDevice, nil)
	c := env.hello()
	c.send([]byte("R1"), []byte("R2"), []byte("Wset"), []byte("R3"))
	for _, want := range []string{"aR1", "aR2", "aWset", "aR3"} {
		assert.Equal(t, want, c.recv())
	}
	env.events.wait(t, inspect.Write, "", 1)
	var w inspect.Event
	for _, ev := range env.events.all() {
		if ev.Kind == inspect.Write {
			w = ev
		}
	}
	assert.Equal(t, map[string]string{"body": "Wset"}, w.Details)
	assert.Equal(t, "cmd W", w.Summary.String())
	assert.Equal(t, toyConduit, w.Conduit)
	assert.Equal(t, netip.MustParseAddrPort(env.dev.addr), w.Destination)
	assert.Equal(t, c.c.LocalAddr().(*net.TCPAddr).AddrPort(), w.Source)
	assert.ElementsMatch(t, []inspect.RequestCount{
		{Protocol: "toy", Conduit: toyConduit, Function: 'H', Verdict: "allowed", Count: 1},
		{Protocol: "toy", Conduit: toyConduit, Function: 'R', Verdict: "allowed", Count: 3},
		{Protocol: "toy", Conduit: toyConduit, Function: 'W', Verdict: "allowed", Count: 1},
	}, env.e.Requests())
	assert.Equal(t, 1, env.e.ActiveConns())
}

// TestEngineHandshakeFirst: the codec's state machine decides what is
// allowed when; a Close verdict sends its message, then ends the
// connection with FIN.
func TestEngineHandshakeFirst(t *testing.T) {
	env := newToy(t, toyCodec{}, echoDevice, nil)
	c := env.dial()
	c.send([]byte("R1"))
	assert.Equal(t, "ER", c.recv(), "the protocol's error message first")
	assert.Equal(t, io.EOF, c.end(), "then a clean close")
	env.events.wait(t, inspect.Denied, "handshake_first", 1)
	assert.Equal(t, uint64(1), env.requests("denied"))
	waitUntil(t, "released", func() bool { return env.e.ActiveConns() == 0 })
	assert.Zero(t, env.dev.conns.Load(), "nothing reached the device")
}

// TestEngineVerdicts: Refuse answers and keeps the connection, Close
// answers and closes, Reset resets; a monitored request is forwarded and
// reported.
func TestEngineVerdicts(t *testing.T) {
	env := newToy(t, toyCodec{}, echoDevice, nil)
	c := env.hello()
	assert.Equal(t, "ED", c.roundTrip("D"))
	assert.Equal(t, "aM", c.roundTrip("M"), "monitored: forwarded")
	assert.Equal(t, "aR", c.roundTrip("R"), "the connection goes on")
	c.send([]byte("C"))
	assert.Equal(t, "EC", c.recv())
	assert.Equal(t, io.EOF, c.end())

	z := env.hello()
	z.send([]byte("Z"))
	assert.ErrorIs(t, z.end(), syscall.ECONNRESET)

	for _, reason := range []string{"toy_denied", "toy_monitored", "toy_closed", "toy_reset"} {
		env.events.wait(t, inspect.Denied, reason, 1) // loops report in their own order
		assert.Equal(t, 1, env.events.count(inspect.Denied, reason), reason)
	}
	assert.Equal(t, uint64(3), env.requests("denied"))
	assert.Equal(t, uint64(1), env.requests("monitored"))
	for _, ev := range env.events.all() {
		if ev.Reason == "toy_monitored" {
			assert.True(t, ev.Monitor)
		}
	}
}

// TestEngineRenumbersKeys: with a key space, the device sees keys of the
// engine's (distinct, within the space) and the client gets its own back,
// in the order the device answers.
func TestEngineRenumbersKeys(t *testing.T) {
	release := make(chan struct{})
	var mu sync.Mutex
	var held [][]byte
	env := newToy(t, toyCodec{keys: 8}, func(n int, body []byte, reply func(...[]byte)) {
		if body[0] != 'K' {
			echoDevice(n, body, reply)
			return
		}
		mu.Lock()
		held = append(held, append([]byte{'k'}, body[1:]...))
		ready := len(held) == 3
		mu.Unlock()
		if ready {
			<-release
			mu.Lock()
			reply(held[2], held[0], held[1]) // out of order
			mu.Unlock()
		}
	}, nil)
	c := env.hello()
	c.send([]byte("K\xc8a"), []byte("K\xc9b"), []byte("K\xcac"))
	<-env.dev.seen // hello
	var keys []byte
	for range 3 {
		b := <-env.dev.seen
		assert.Less(t, b[1], byte(8), "a key of the engine's space")
		keys = append(keys, b[1])
	}
	assert.NotEqual(t, keys[0], keys[1])
	assert.NotEqual(t, keys[1], keys[2])
	close(release)
	assert.Equal(t, "k\xcac", c.recv())
	assert.Equal(t, "k\xc8a", c.recv())
	assert.Equal(t, "k\xc9b", c.recv())
}

// TestEngineKeysNotRenumbered: without a key space frames reach the
// device unchanged; a key that is outstanding already is answered busy.
func TestEngineKeysNotRenumbered(t *testing.T) {
	release := make(chan struct{})
	env := newToy(t, toyCodec{}, func(n int, body []byte, reply func(...[]byte)) {
		if body[0] == 'K' {
			<-release
		}
		echoDevice(n, body, reply)
	}, nil)
	c := env.hello()
	c.send([]byte("K\x05x"), []byte("K\x05y"))
	assert.Equal(t, "B\x05", c.recv(), "the second request with key 5 while the first waits")
	<-env.dev.seen
	assert.Equal(t, "K\x05x", string(<-env.dev.seen), "the key as the client sent it")
	close(release)
	assert.Equal(t, "k\x05x", c.recv())
	assert.Equal(t, "k\x05z", c.roundTrip("K\x05z"), "the key is free again once answered")
}

// TestEngineNoAnswerAndUnpaired: a request that expects no answer has no
// deadline; answers that cannot be paired pass to the client as they
// come.
func TestEngineNoAnswerAndUnpaired(t *testing.T) {
	env := newToy(t, toyCodec{}, echoDevice, func(c *Config) { c.ResponseTimeout = 10 * time.Millisecond })
	c := env.hello()
	c.send([]byte("N"), []byte("U"))
	assert.Equal(t, "p\x01", c.recv())
	assert.Equal(t, "p\x02", c.recv())
	assert.Equal(t, "aR", c.roundTrip("R"), "nothing waits for the N request: R is paired with its own answer")
	assert.Zero(t, env.events.count(inspect.Failure, ReasonUpstreamTimeout))
	assert.Equal(t, int64(1), env.dev.conns.Load())
}

// TestEngineDropFrame: a device frame the codec refuses closes the device
// connection; the waiting requests get the codec's no-response answer at
// once, and the next request connects again.
func TestEngineDropFrame(t *testing.T) {
	env := newToy(t, toyCodec{}, func(n int, body []byte, reply func(...[]byte)) {
		if n == 1 && body[0] == 'R' {
			reply([]byte{'x'})
			return
		}
		echoDevice(n, body, reply)
	}, func(c *Config) { c.ResponseTimeout = time.Minute })
	c := env.hello()
	assert.Equal(t, "T\x00", c.roundTrip("R"))
	env.events.wait(t, inspect.Malformed, "toy_refused", 1)
	assert.Equal(t, "aR", c.roundTrip("R"))
	assert.Equal(t, int64(2), env.dev.conns.Load())
}

// TestEngineInOrderTimeout: in-order answers cannot be paired once one
// is missing, so a request that times out closes the device connection
// (the others waiting on it get their answer at once); a codec answer
// that ends the conversation closes the client connection after it.
func TestEngineInOrderTimeout(t *testing.T) {
	var mu sync.Mutex
	stuck := map[int]bool{} // device connections that answer no more
	env := newToy(t, toyCodec{}, func(n int, body []byte, reply func(...[]byte)) {
		mu.Lock()
		defer mu.Unlock()
		if body[0] == 'S' || body[0] == 'Q' {
			stuck[n] = true
		}
		if !stuck[n] {
			echoDevice(n, body, reply)
		}
	}, func(c *Config) { c.ResponseTimeout = time.Minute })
	c := env.hello()
	c.send([]byte("S\x14"), []byte("R"))
	assert.Equal(t, "T\x00", c.recv(), "the slow request at its own deadline")
	assert.Equal(t, "T\x00", c.recv(), "the one behind it, when the device connection closes")
	env.events.wait(t, inspect.Failure, ReasonUpstreamTimeout, 2)
	assert.Equal(t, "aR", c.roundTrip("R"), "a fresh device connection")
	assert.Equal(t, int64(2), env.dev.conns.Load())

	q := env.hello()
	q.send([]byte("Q\x14"))
	assert.Equal(t, "T\x00", q.recv())
	assert.Equal(t, io.EOF, q.end(), "the codec's answer ended the conversation")
}

// TestEngineKeyedTimeoutKeepsDevice: a keyed request answered by the
// engine at its deadline leaves the device connection alone; the device's
// late answer is recognised and dropped.
func TestEngineKeyedTimeoutKeepsDevice(t *testing.T) {
	late := make(chan func(), 1)
	env := newToy(t, toyCodec{keys: 256}, func(n int, body []byte, reply func(...[]byte)) {
		if body[0] == 'K' && body[2] == 'L' {
			late <- func() { reply(append([]byte{'k'}, body[1:]...)) }
			return
		}
		echoDevice(n, body, reply)
	}, func(c *Config) { c.ResponseTimeout = 20 * time.Millisecond })
	c := env.hello()
	assert.Equal(t, "T\x07", c.roundTrip("K\x07L"))
	(<-late)()
	env.events.wait(t, inspect.Failure, ReasonLateResponse, 1)
	assert.Equal(t, "k\x08ok", c.roundTrip("K\x08ok"))
	assert.Equal(t, int64(1), env.dev.conns.Load(), "the same device connection")
	assert.Zero(t, env.events.count(inspect.Failure, ReasonUpstreamDesync))
}

// TestEngineDesync: an answer that pairs with no waiting request, or
// pairs but does not match it, while requests wait: the device connection
// is closed, every waiting request answered at once (the response timeout
// is a minute, beyond the test's read deadline), one upstream_desync
// event; an answer while nothing waits is dropped and counted.
func TestEngineDesync(t *testing.T) {
	env := newToy(t, toyCodec{keys: 256}, func(n int, body []byte, reply func(...[]byte)) {
		switch {
		case string(body) == "Rbad":
			reply([]byte{'h'}) // pairs in order with Rbad, but does not match it
		case len(body) > 2 && string(body[2:]) == "wrongkey":
			reply([]byte{'k', body[1] + 100}) // a key no request has
		case len(body) > 2 && string(body[2:]) == "extra":
			reply(append([]byte{'k'}, body[1:]...), []byte{'k', 99})
		default:
			echoDevice(n, body, reply)
		}
	}, func(c *Config) { c.ResponseTimeout = time.Minute })
	c := env.hello()
	c.send([]byte("K\x01wrongkey"), []byte("K\x02x"))
	assert.Equal(t, "T\x01", c.recv())
	assert.Equal(t, "T\x02", c.recv())
	env.events.wait(t, inspect.Failure, ReasonUpstreamDesync, 1)
	assert.Equal(t, 1, env.events.count(inspect.Failure, ReasonUpstreamDesync), "one event for both")

	assert.Equal(t, "h", c.roundTrip("H"), "a fresh device connection")
	assert.Equal(t, "T\x00", c.roundTrip("Rbad"), "an answer that does not match its request")
	env.events.wait(t, inspect.Failure, ReasonUpstreamDesync, 2)

	assert.Equal(t, "k\x04extra", c.roundTrip("K\x04extra"))
	env.events.wait(t, inspect.Failure, ReasonUnsolicited, 1)
	assert.Equal(t, "k\x05ok", c.roundTrip("K\x05ok"), "an unsolicited answer keeps the device connection")
	assert.Equal(t, int64(3), env.dev.conns.Load())
	assert.Zero(t, env.events.count(inspect.Failure, ReasonUpstreamTimeout))
}

// TestEngineFraming: a frame the codec refuses, or one longer than its
// Framing allows, resets the connection and is reported; a frame longer
// than the first buffer grows it.
func TestEngineFraming(t *testing.T) {
	env := newToy(t, toyCodec{maxFrame: 6000}, echoDevice, nil)
	c := env.dial()
	c.c.Write([]byte{0, 0})
	assert.ErrorIs(t, c.end(), syscall.ECONNRESET)
	env.events.wait(t, inspect.Malformed, ReasonMalformedFrame, 1)
	for _, ev := range env.events.all() {
		if ev.Kind == inspect.Malformed {
			assert.Equal(t, "empty toy frame", ev.Summary.String())
		}
	}

	long := env.dial()
	long.c.Write([]byte{0xFF, 0xFF})
	assert.ErrorIs(t, long.end(), syscall.ECONNRESET)
	env.events.wait(t, inspect.Malformed, ReasonMalformedFrame, 2)

	big := env.hello()
	body := make([]byte, 5000)
	body[0] = 'R'
	assert.Equal(t, "a"+string(body), big.roundTrip(string(body)), "a 5,000-byte frame through buffers that start at 4 KiB")
}

// TestEngineUnreachable: a device that cannot be connected gets the
// codec's unreachable answer, at once again during the backoff.
func TestEngineUnreachable(t *testing.T) {
	env := newToy(t, toyCodec{}, nil, nil)
	c := env.dial()
	assert.Equal(t, "U\x00", c.roundTrip("H"))
	assert.Equal(t, "U\x00", c.roundTrip("H"))
	env.events.wait(t, inspect.Failure, ReasonUpstreamDial, 2)
}

// TestEngineAdmitIdentity: a connection handed over by a front end (one
// end of a socket pair) is served like an accepted one, its session sees
// the identity the front end proved, and CloseConns can pick it by its
// role.
func TestEngineAdmitIdentity(t *testing.T) {
	env := newToy(t, toyCodec{}, echoDevice, nil)
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	require.NoError(t, err)
	front := os.NewFile(uintptr(fds[0]), "front")
	back := os.NewFile(uintptr(fds[1]), "back")
	nc, err := net.FileConn(back)
	require.NoError(t, err)
	back.Close()
	client, err := net.FileConn(front)
	require.NoError(t, err)
	front.Close()
	t.Cleanup(func() { client.Close() })
	peer := netip.MustParseAddrPort("198.18.0.10:40000")
	require.NoError(t, env.e.Admit(nc, peer, Route{Upstream: netip.MustParseAddrPort(env.dev.addr), Conduit: toyConduit,
		Identity: Identity{Role: "operator", Subject: "CN=hmi-1"}}))
	c := &toyClient{t: t, c: client}
	assert.Equal(t, "h", c.roundTrip("H"))
	assert.Equal(t, "EI", c.roundTrip("I"))
	env.events.wait(t, inspect.Denied, "operator", 1)
	for _, ev := range env.events.all() {
		if ev.Reason == "operator" {
			assert.Equal(t, "operator", ev.Role)
			assert.Equal(t, peer, ev.Source)
		}
	}
	plain := env.hello()
	n := env.e.CloseConns(func(r Route, from netip.AddrPort) bool { return r.Identity.Role == "operator" && from == peer })
	assert.Equal(t, 1, n)
	assert.Error(t, c.end())
	assert.Equal(t, "aR", plain.roundTrip("R"), "the other connection stays")
}

// TestEngineLimits: a connection beyond the per-source limit is refused
// with a reset and reported; a closed one makes room.
func TestEngineLimits(t *testing.T) {
	env := newToy(t, toyCodec{}, echoDevice, func(c *Config) { c.MaxConnsPerSource = 2; c.MaxConns = 3 })
	a, b := env.hello(), env.hello()
	// The reset may reach the client before its connect returns.
	if refused, err := net.DialTimeout("tcp", env.addr, hang); err == nil {
		defer refused.Close()
		refused.SetReadDeadline(time.Now().Add(hang))
		_, err = refused.Read(make([]byte, 1))
		assert.ErrorIs(t, err, syscall.ECONNRESET)
	} else {
		assert.ErrorIs(t, err, syscall.ECONNRESET)
	}
	env.events.wait(t, inspect.Refused, ReasonConnLimitSource, 1)
	a.c.Close()
	waitUntil(t, "a slot again", func() bool { return env.e.ActiveConns() == 1 })
	env.hello()
	assert.Equal(t, "aR", b.roundTrip("R"))
}

// TestEngineIdleAndFrameTimeouts: a connection that sends nothing, or
// stops inside a frame, is closed.
func TestEngineIdleAndFrameTimeouts(t *testing.T) {
	env := newToy(t, toyCodec{}, echoDevice, func(c *Config) {
		c.IdleTimeout = 50 * time.Millisecond
		c.FrameTimeout = 50 * time.Millisecond
	})
	idle := env.hello()
	partial := env.dial()
	partial.c.Write([]byte{0, 5, 'R'})
	assert.Equal(t, io.EOF, idle.end())
	assert.Equal(t, io.EOF, partial.end())
	waitUntil(t, "released", func() bool { return env.e.ActiveConns() == 0 })
}

// TestEngineShutdownDrains: Shutdown stops accepting, lets the waiting
// requests be answered, then closes; Serve returns ErrClosed.
func TestEngineShutdownDrains(t *testing.T) {
	release := make(chan struct{})
	env := newToy(t, toyCodec{}, func(n int, body []byte, reply func(...[]byte)) {
		if body[0] == 'R' {
			<-release
		}
		echoDevice(n, body, reply)
	}, nil)
	c := env.hello()
	c.send([]byte("R"))
	waitUntil(t, "forwarded", func() bool { return env.requests("allowed") == 2 })
	shut := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), hang)
		defer cancel()
		shut <- env.e.Shutdown(ctx)
	}()
	waitUntil(t, "listener closed", func() bool {
		nc, err := net.Dial("tcp", env.addr)
		if err == nil {
			nc.Close()
		}
		return err != nil
	})
	close(release)
	assert.Equal(t, "aR", c.recv())
	assert.Equal(t, io.EOF, c.end())
	require.NoError(t, <-shut)
	assert.ErrorIs(t, <-env.served, ErrClosed)
	select {
	case <-env.e.Events().Done():
	default:
		t.Error("the event feed is closed once the engine stopped")
	}
}

// TestEngineEventQueueFull: a loop whose queue is full drops events and
// counts them, and never waits for the pipeline; equal events of a round
// are counted into one.
func TestEngineEventQueueFull(t *testing.T) {
	codec := toyCodec{}
	e, err := New(Config{Loops: 1, EventQueue: 2, Route: func(net.Conn) (Route, error) {
		return Route{Upstream: netip.MustParseAddrPort("127.0.0.1:1"), Conduit: toyConduit}, nil
	}}, codec)
	require.NoError(t, err)
	defer e.Close()
	require.NoError(t, e.Install(map[string]Policy{toyConduit: toyPolicy{}}))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	go e.Serve(ln)
	env := &toyEnv{t: t, e: e, addr: ln.Addr().String()}
	c := env.dial()
	assert.Equal(t, "U\x00", c.roundTrip("H"), "no device: one upstream_unreachable event")
	var batch []byte
	for range 50 {
		batch = toyFrame(batch, 'D')
	}
	c.c.Write(batch)
	for range 50 {
		assert.Equal(t, "ED", c.recv())
	}
	for i := range 10 {
		c.send([]byte{'D'})
		assert.Equal(t, "ED", c.recv(), "round trip %d", i)
	}
	n := 0
	e.Events().Drain(func(ev *inspect.Event) { n += int(ev.N()) })
	dropped := int(e.Events().Dropped())
	assert.NotZero(t, dropped, "nobody drained: the queue of 2 filled")
	assert.Equal(t, 61, n+dropped, "every event queued or counted as dropped")
	assert.Equal(t, uint64(60), env.requests("denied"), "the counters count every request")
}
