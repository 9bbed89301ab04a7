// Package proxy is the protocol-neutral proxy engine of zonegate's
// inspected conduits, and the contract the daemon runs it by.
//
// The Engine accepts client connections (Serve; usually redirected to it
// by the gateway's nftables ruleset) or takes them from a front end
// (Admit: one end of a socket pair, with the client's address and the
// identity a TLS front end proved), admits them under connection limits
// (per source address, in total), routes each to a device and a conduit,
// and serves it from an event loop: it frames both byte streams, asks the
// protocol's Codec for a verdict on every request under the conduit's
// live policy, forwards allowed requests over its own connection to the
// device, pairs each answer with its request (by a key the codec reads,
// which the engine may renumber, or in order), and answers in the
// device's place what the policy refuses and what the device does not
// answer in time. It enforces idle, frame, write and per-request
// deadlines, closes a device connection whose stream breaks or whose
// answers stop pairing with its requests (ReasonUpstreamDesync), and
// closes the connections a reload no longer allows (CloseConns). The
// engine links no protocol (a test checks its link graph).
//
// # Plugging in a protocol
//
// A protocol is a Codec (what the engine needs to know: frame sizes,
// whether keys may be renumbered, the answers it gives in the device's
// place, how an event describes a request) and a Session per client
// connection (framing of both streams, the verdict on a request, the
// classification of a device frame, whether an answer matches its
// request). A Session's state machine decides what is allowed when, so a
// handshake before requests (OPC UA HEL/ACK, then OPN) is a few states in
// it; a protocol without ids pairs InOrder; one whose frames are signed
// gives a KeySpace of 0 so that they reach the device unchanged; one
// whose ids are encrypted forwards Unpaired and passes the device's frames
// as they come. Its Inspector (Protocol, Compile, NewProxy = New with the
// codec) goes, with the protocol's rules block, into the one line that
// lists the protocol in package protocols/registry. protocols/modbustcp
// is the Modbus/TCP codec; the engine's own tests use a toy protocol.
//
// Device connections are objects of their own: every request in a device
// connection's table names the client connection it answers to and that
// client's key, and the keys on the device connection are the engine's.
// With a codec whose keys the engine renumbers (KeySpace > 0, not
// BoundDevice) the client connections to one device share a pool of
// long-lived device connections (pool.go): Admit puts every client of a
// device on the same loop, requests wait in a bounded queue per client
// (MaxQueued; beyond it AnswerBusy) and go out round-robin, one per
// client in turn, to a device connection with room (DeviceSettings:
// MaxConns connections, MaxInFlight requests each, per conduit through
// the codec's DeviceConfigurer). A client that closes leaves the device
// connection open; an idle one closes after IdleTimeout, a silent one
// (RedialAfter timeouts in a row without a byte) is connected again, and
// a connect is bounded by the first waiting request's deadline. A
// request's deadline answers that request only: a device frame closes its
// connection when it makes no progress for FrameTimeout, is malformed, or
// is an answer the session's AnswerChecker finds bad. Other codecs give
// each client connection a pool of its own with one device connection.
//
// # Events and counters
//
// A verdict carries one reason, a short static string: the metric label,
// the event key and the audit detail. The loops count requests by conduit,
// request type and verdict (atomic adds; Requests) and queue events
// (inspect.Event, fixed size, no allocation) into a bounded queue of their
// own, counting an event equal to one of the same round into it; the
// event pipeline drains the queues from its own goroutine
// (gateway/events.Pipeline.Follow). A full queue drops and counts (Feed's
// Dropped). Nothing on a loop logs, formats, or takes a lock the
// management API, the audit writer or a metrics scrape takes.
//
// # On the Go runtime's terms
//
// Each loop is one goroutine over an epoll instance of its own, serving
// client and device sockets alike: a request costs its system calls (one
// recv and one send on each side, one epoll_wait shared by the sockets
// ready at the same time) instead of four goroutine wake-ups. The calls
// that cannot block (recv, send, epoll_wait with a timeout of 0) are raw
// system calls; a loop blocks only in the runtime:
//
//   - Sleeping: the loop's epoll file descriptor is registered with the
//     runtime's netpoller (os.NewFile) and the loop parks on it through
//     RawConn.Read, whose callback polls the epoll instance first. A
//     parked loop holds no P and no thread: an idle proxy costs nothing,
//     garbage collection never waits for a loop, and a goroutine the loop
//     wakes (the event pipeline, a dialer) runs at once.
//   - Yielding: with one P (a gateway with one CPU, or a proxy pinned to
//     one, which Go gives GOMAXPROCS 1), runtime.findRunnable polls the
//     network for the program's other goroutines (the management API)
//     only when its run queues are empty, and otherwise only sysmon does,
//     every 10 ms. A loop that always has events would hold them off that
//     long each time. So after 500 µs of work without sleeping a loop
//     makes its own epoll instance ready (a write to its eventfd) and
//     parks: before it can run again the scheduler must have run every
//     runnable goroutine and a netpoll must have reported its epoll
//     instance, together with every other ready socket of the program;
//     then it yields once more (runtime.Gosched) so that the goroutines
//     that netpoll woke run first. Nothing depends on the timing of the
//     scheduler or sysmon.
//
// The engine never changes GOMAXPROCS; its default number of loops is
// GOMAXPROCS.
//
// Measured (2-CPU shared VM, proxies pinned to one CPU, make bench-modbus
// and an ad-hoc management-API probe; README "Tests and benchmarks"):
// sleeping in the netpoller with these yields makes the same system calls
// per request as a loop sleeping in its own raw epoll_pwait while holding
// its P (the design this one replaces): 2 recvfrom, 2 sendto and 1.03
// epoll_pwait at 16 clients, 0.07 context switches; CPU per request was
// 0.93-1.00 of HAProxy's at 16 clients and 0.99-1.11 at 64. A status call
// to an HTTP API in the proxy's process answered with p99 3.7-5.5 ms
// beside a saturated loop on one CPU (a plain Go HTTP server on that CPU:
// 4.9-11.4 ms), and the longest GC stop-the-world pause was 0.33-1.2 ms
// (0.54-0.96 ms with the proxy alone on the CPU); without the yields the
// p99 was 75 ms and the longest pause 4.1 ms. Sleeping in epoll_pwait
// through syscall.Syscall6 instead (the runtime hands a P in a system call
// to another thread after a sysmon tick) made the same system calls, but
// cost 1.17 times HAProxy's CPU per request with one client (sysmon's
// wake-ups) and paused for 4.4 and 4.8 ms in two of three runs. A
// goroutine per connection on net.Conn had cost 1.4-1.6 times HAProxy's
// CPU per request.
package proxy
