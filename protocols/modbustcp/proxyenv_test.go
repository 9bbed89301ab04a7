package modbustcp

import (
	"encoding/binary"
	"errors"
	"io"
	"log"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	gbmodbus "github.com/goburrow/modbus"
	svmodbus "github.com/simonvetter/modbus"

	"github.com/zonegate/zonegate/protocols/inspect"
	"github.com/zonegate/zonegate/protocols/modbus"
	"github.com/zonegate/zonegate/protocols/proxy"
)

// hang is the generous bound that only keeps a broken test from hanging;
// no test passes or fails on timing.
const hang = 20 * time.Second

// fakePLC is a github.com/simonvetter/modbus server that counts what it
// receives. Holding register i starts as 1000+i.
type fakePLC struct {
	srv      *svmodbus.ModbusServer
	addr     netip.AddrPort
	mu       sync.Mutex
	hr       []uint16
	coils    []bool
	requests atomic.Int64 // every request that reached a handler
	writes   atomic.Int64
	bigReads atomic.Int64 // reads of 125 holding registers
}

func startPLC(t testing.TB) *fakePLC {
	t.Helper()
	p := &fakePLC{hr: make([]uint16, 65536), coils: make([]bool, 65536)}
	for i := range p.hr {
		p.hr[i] = uint16(1000 + i)
	}
	var err error
	for range 20 {
		port := freePort(t)
		if p.srv, err = startPLCAt(p, "127.0.0.1:"+strconv.Itoa(port)); err == nil {
			p.addr = netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(port))
			t.Cleanup(func() { p.srv.Stop() })
			return p
		}
	}
	t.Fatalf("fake PLC does not start: %v", err)
	return nil
}

// startPLCAt starts a server for p on hostport.
func startPLCAt(p *fakePLC, hostport string) (*svmodbus.ModbusServer, error) {
	srv, err := svmodbus.NewServer(&svmodbus.ServerConfiguration{
		URL: "tcp://" + hostport, Timeout: time.Minute, MaxClients: 2000,
		Logger: log.New(io.Discard, "", 0),
	}, p)
	if err != nil {
		return nil, err
	}
	return srv, srv.Start()
}

func freePort(t testing.TB) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func (p *fakePLC) HandleCoils(req *svmodbus.CoilsRequest) ([]bool, error) {
	p.requests.Add(1)
	p.mu.Lock()
	defer p.mu.Unlock()
	if req.IsWrite {
		p.writes.Add(1)
		copy(p.coils[req.Addr:], req.Args)
		return nil, nil
	}
	return append([]bool(nil), p.coils[req.Addr:int(req.Addr)+int(req.Quantity)]...), nil
}

func (p *fakePLC) HandleDiscreteInputs(req *svmodbus.DiscreteInputsRequest) ([]bool, error) {
	p.requests.Add(1)
	return make([]bool, req.Quantity), nil
}

func (p *fakePLC) HandleHoldingRegisters(req *svmodbus.HoldingRegistersRequest) ([]uint16, error) {
	p.requests.Add(1)
	p.mu.Lock()
	defer p.mu.Unlock()
	if req.IsWrite {
		p.writes.Add(1)
		copy(p.hr[req.Addr:], req.Args)
		return nil, nil
	}
	if req.Quantity == 125 {
		p.bigReads.Add(1)
	}
	return append([]uint16(nil), p.hr[req.Addr:int(req.Addr)+int(req.Quantity)]...), nil
}

func (p *fakePLC) HandleInputRegisters(req *svmodbus.InputRegistersRequest) ([]uint16, error) {
	p.requests.Add(1)
	return make([]uint16, req.Quantity), nil
}

func (p *fakePLC) register(i int) uint16 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.hr[i]
}

// recEvent is a copy of an inspect.Event.
type recEvent struct {
	Kind        inspect.EventKind
	Reason      string
	Summary     string
	Monitor     bool
	Conduit     string
	Role        string
	Source      netip.AddrPort
	Destination netip.AddrPort
	Details     map[string]string
	N           uint64 // events it stands for (a loop counts equal events of a round into one)
}

// recSink records copies of the events a proxy's feed hands on, drained
// as the event pipeline drains them.
type recSink struct {
	mu  sync.Mutex
	evs []recEvent
}

// follow drains feed into a recSink until the feed closes.
func follow(feed *inspect.Feed) *recSink {
	s := &recSink{}
	go feed.Follow(s.add)
	return s
}

func (s *recSink) add(ev *inspect.Event) {
	r := recEvent{Kind: ev.Kind, Reason: ev.Reason, Summary: ev.Summary.String(), Monitor: ev.Monitor, Conduit: ev.Conduit,
		Role: ev.Role, Source: ev.Source, Destination: ev.Destination, Details: ev.Details, N: ev.N()}
	s.mu.Lock()
	s.evs = append(s.evs, r)
	s.mu.Unlock()
}

func (s *recSink) all() []recEvent {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]recEvent(nil), s.evs...)
}

// waitFor waits for an event matching pred and returns it.
func (s *recSink) waitFor(t testing.TB, what string, pred func(recEvent) bool) recEvent {
	t.Helper()
	deadline := time.Now().Add(hang)
	for time.Now().Before(deadline) {
		for _, e := range s.all() {
			if pred(e) {
				return e
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("no %s event; got %+v", what, s.all())
	return recEvent{}
}

// count counts the events of kind (and reason, when given).
func (s *recSink) count(kind inspect.EventKind, reason ...string) int {
	n := 0
	for _, e := range s.all() {
		if e.Kind == kind && (len(reason) == 0 || e.Reason == reason[0]) {
			n += int(e.N)
		}
	}
	return n
}

// conduit is the conduit of the tests' proxies.
const conduit = "scada-to-plc"

// env is a proxy in front of an upstream.
type env struct {
	t        testing.TB
	proxy    *proxy.Engine
	addr     string
	sink     *recSink
	plc      *fakePLC
	upstream netip.AddrPort
	served   chan error
}

// newEnv starts a proxy for spec in front of upstream (zero: a new fake PLC).
func newEnv(t testing.TB, spec modbus.Spec, upstream netip.AddrPort, tweak func(*proxy.Config)) *env {
	t.Helper()
	e := &env{t: t, served: make(chan error, 1)}
	if !upstream.IsValid() {
		e.plc = startPLC(t)
		upstream = e.plc.addr
	}
	e.upstream = upstream
	cfg := proxy.Config{
		Route: func(net.Conn) (proxy.Route, error) {
			return proxy.Route{Upstream: upstream, Conduit: conduit}, nil
		},
		MaxConnsPerSource: 100,
	}
	if tweak != nil {
		tweak(&cfg)
	}
	var err error
	e.proxy, err = proxy.New(cfg, Codec{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.proxy.Close() })
	e.sink = follow(e.proxy.Events())
	e.setPolicy(spec)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e.addr = ln.Addr().String()
	go func() { e.served <- e.proxy.Serve(ln) }()
	return e
}

// setPolicy installs spec as the conduit's policy.
func (e *env) setPolicy(spec modbus.Spec) {
	e.t.Helper()
	pol, err := modbus.Compile(spec)
	if err != nil {
		e.t.Fatal(err)
	}
	if err := e.proxy.Install(map[string]proxy.Policy{conduit: pol}); err != nil {
		e.t.Fatal(err)
	}
}

// requests sums the proxy's request counters of a verdict (allowed,
// denied, monitored).
func (e *env) requests(verdict string) uint64 {
	return inspect.Requests(e.proxy.Requests(), verdict)
}

// client returns a goburrow client for unit through the proxy.
func (e *env) client(unit byte) gbmodbus.Client {
	return goburrowClient(e.t, e.addr, unit)
}

func goburrowClient(t testing.TB, addr string, unit byte) gbmodbus.Client {
	h := gbmodbus.NewTCPClientHandler(addr)
	h.SlaveId = unit
	h.Timeout = hang
	if err := h.Connect(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	return gbmodbus.NewClient(h)
}

// exception returns the exception code of a goburrow error, or 0.
func exception(err error) byte {
	var me *gbmodbus.ModbusError
	if errors.As(err, &me) {
		return me.ExceptionCode
	}
	return 0
}

// rawConn is a client speaking raw frames.
type rawConn struct {
	t  testing.TB
	c  net.Conn
	fr *modbus.Framer
}

func (e *env) dialRaw() *rawConn { return dialRaw(e.t, e.addr) }

func dialRaw(t testing.TB, addr string) *rawConn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, hang)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &rawConn{t: t, c: c, fr: modbus.NewFramer(c, nil)}
}

func (r *rawConn) write(frames ...[]byte) {
	r.t.Helper()
	r.c.SetWriteDeadline(time.Now().Add(hang))
	if _, err := r.c.Write(cat(frames...)); err != nil {
		r.t.Fatal(err)
	}
}

func (r *rawConn) read() modbus.Frame {
	r.t.Helper()
	r.c.SetReadDeadline(time.Now().Add(hang))
	f, err := r.fr.Next()
	if err != nil {
		r.t.Fatalf("reading a response: %v", err)
	}
	return modbus.Frame(append([]byte(nil), f...))
}

func (r *rawConn) roundTrip(frame []byte) modbus.Frame {
	r.t.Helper()
	r.write(frame)
	return r.read()
}

// expectClosed waits for the proxy to close the connection.
func (r *rawConn) expectClosed() error {
	r.t.Helper()
	r.c.SetReadDeadline(time.Now().Add(hang))
	f, err := r.fr.Next()
	if err == nil {
		r.t.Fatalf("connection still open: received %x", []byte(f))
	}
	if errors.Is(err, net.ErrClosed) || isTimeout(err) {
		r.t.Fatalf("connection not closed by the proxy: %v", err)
	}
	return err
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// wantException checks that f is exception ex for request tid/fc.
func wantException(t testing.TB, f modbus.Frame, tid uint16, fc modbus.FunctionCode, ex modbus.ExceptionCode) {
	t.Helper()
	want := modbus.Frame(modbus.AppendException(nil, tid, f.Unit(), fc, ex))
	if string(f) != string(want) {
		t.Fatalf("got frame %x, want exception %v %x", []byte(f), ex, []byte(want))
	}
}

// scripted starts a raw upstream whose connections are served by handle;
// it returns the address and a counter of accepted connections.
func scripted(t testing.TB, handle func(n int, c net.Conn, fr *modbus.Framer)) (netip.AddrPort, *atomic.Int64) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var conns sync.Map
	var count atomic.Int64
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns.Store(c, true)
			n := int(count.Add(1))
			go func() {
				defer c.Close()
				handle(n, c, modbus.NewFramer(c, nil))
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		conns.Range(func(k, _ any) bool { k.(net.Conn).Close(); return true })
	})
	return ln.Addr().(*net.TCPAddr).AddrPort(), &count
}

// readResponse builds the response of a device to an FC 3 request: quantity
// registers holding their address.
func readResponse(req modbus.Frame) []byte {
	addr, qty := binary.BigEndian.Uint16(req[8:]), binary.BigEndian.Uint16(req[10:])
	data := []byte{req[7], byte(2 * qty)}
	for i := range qty {
		data = binary.BigEndian.AppendUint16(data, addr+i)
	}
	return adu(req.TransactionID(), req.Unit(), data)
}

// proxySpec is the policy of most proxy tests.
func proxySpec() modbus.Spec {
	return modbus.Spec{
		Units: []uint8{1},
		Rules: []modbus.Rule{
			{Access: modbus.AccessRead, Table: modbus.HoldingRegisters, Addresses: modbus.Range{Lo: 0, Hi: 199}},
			{Access: modbus.AccessWrite, Table: modbus.HoldingRegisters, Addresses: modbus.Range{Lo: 10, Hi: 19}, Values: rng(0, 1000)},
			{Access: modbus.AccessRead, Table: modbus.Coils, Addresses: modbus.Range{Lo: 0, Hi: 15}},
			{Access: modbus.AccessWrite, Table: modbus.Coils, Addresses: modbus.Range{Lo: 0, Hi: 7}},
		},
	}
}

// waitUntil polls cond until it holds.
func waitUntil(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(hang)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
