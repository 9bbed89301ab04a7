package proxy

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"time"

	"go.uber.org/zap"

	"github.com/zonegate/zonegate/protocols/inspect"
)

// ErrClosed is returned by Serve and Admit after Shutdown or Close.
var ErrClosed = errors.New("proxy closed")

// DefaultResponseTimeout is how long a device has to answer a forwarded
// request when neither the request's verdict nor Config sets a time.
const DefaultResponseTimeout = time.Second

// Route is where a proxy sends one client connection.
type Route struct {
	Upstream netip.AddrPort // the device to connect to
	Conduit  string         // the conduit whose policy applies; names events and counters
	// Identity is what a front end proved about the client (a TLS
	// client certificate); zero for plain connections. The codec's
	// session picks the policy of its role.
	Identity Identity
}

// Identity is the client of a connection as an authenticating front end
// saw it.
type Identity struct {
	Role        string // the role its certificate carries; "" none
	Subject     string // the certificate's subject, for the audit log
	Fingerprint string // SHA-256 of the certificate, hex
}

// Config configures the proxy of one inspector. Zero durations and limits
// take the defaults noted.
type Config struct {
	// Route decides, for a client connection accepted by Serve, where to
	// forward it; an error refuses the connection. Required by Serve
	// (connections given to Admit come with their route).
	Route func(client net.Conn) (Route, error)
	// Log receives operational messages (accept errors), never from an
	// event loop; nil: none. Data-plane events go to Events().
	Log *zap.Logger
	// ResponseTimeout is how long a device has to answer a forwarded
	// request when the request's verdict sets no time of its own;
	// default DefaultResponseTimeout.
	ResponseTimeout time.Duration
	// Dial connects to devices; nil: a net.Dialer. The connection it
	// returns must be a socket (a syscall.Conn): the proxy serves it from
	// its event loops.
	Dial func(ctx context.Context, network, address string) (net.Conn, error)
	// Now is the clock of the codec's rate limits and of event times;
	// nil: the loops' clock. Deadlines always use the real clock.
	Now func() time.Time

	MaxConns          int // open client connections in total; default 1024
	MaxConnsPerSource int // open client connections per source IP address; default 32
	MaxOutstanding    int // requests per connection awaiting their answer (queued or sent); default 16
	// MaxQueued is the number of a client connection's requests waiting
	// for room on a device connection at most; the next one gets
	// AnswerBusy (Modbus: 0x06). Default MaxOutstanding (a
	// client then waits for its answers before it sends more).
	MaxQueued int
	// Device connections (DeviceSettings; a conduit's settings, through
	// the codec's DeviceConfigurer, override them): connections per
	// device, default 1; requests in flight per device connection,
	// default MaxOutstanding; idle time before a device connection
	// closes, default DefaultDeviceIdleTimeout; timeouts in a row without
	// a byte from the device before it is connected again, default
	// DefaultRedialAfter.
	MaxDeviceConns    int
	MaxInFlight       int
	DeviceIdleTimeout time.Duration
	RedialAfter       int
	IdleTimeout       time.Duration // client connection without any request; default 5 min
	FrameTimeout      time.Duration // time to receive the rest of a started frame; default 10 s
	DialTimeout       time.Duration // connecting to the device before AnswerUnreachable; default 3 s
	WriteTimeout      time.Duration // a peer taking bytes we send; default 10 s
	// Loops is the number of event loops; default GOMAXPROCS.
	Loops int
	// EventQueue is the number of events each loop holds for the event
	// pipeline before it drops (and counts) further ones; default 1024.
	EventQueue int
}

// Policy is an inspector's compiled rules for one conduit. Only the codec
// of the inspector that compiled it reads it.
type Policy any

// Inspector is one inspected protocol as the daemon runs it.
type Inspector interface {
	// Protocol names the protocol; Protocol().Name is the `inspect:` value
	// of the conduits it serves.
	Protocol() inspect.Protocol
	// Compile checks a conduit's rules block as the zone model holds it
	// (zone.Conduit.InspectRules) and compiles it into a Policy. Errors say
	// what to fix.
	Compile(rules any) (Policy, error)
	// NewProxy returns a proxy (New with the protocol's Codec); the
	// caller runs Serve.
	NewProxy(cfg Config) (Proxy, error)
}

// Proxy is a running inspecting proxy (an *Engine).
type Proxy interface {
	// Serve accepts connections on ln until ln fails or the proxy is shut
	// down, then returns ErrClosed (wrapped or as is) or the accept error.
	Serve(ln net.Listener) error
	// Admit serves one connection that did not come from a listener of
	// Serve (one end of a socket pair from a TLS front end): client is
	// the peer's address for the limits and the events, r its route.
	Admit(nc net.Conn, client netip.AddrPort, r Route) error
	// Shutdown stops accepting, lets connections finish the requests
	// already read and closes them; when ctx ends first it closes the rest.
	Shutdown(ctx context.Context) error
	// Install replaces the policies of all conduits (conduit name ->
	// Policy from the same Inspector's Compile). Open connections use them
	// from their next request; connections of a conduit not in the map are
	// denied everything. An error (a policy of another inspector) installs
	// nothing.
	Install(policies map[string]Policy) error
	// CloseConns resets the connections for which match returns true, and
	// their device connections, and returns how many it closed.
	CloseConns(match func(r Route, client netip.AddrPort) bool) int
	// Requests returns the non-zero request counters.
	Requests() []inspect.RequestCount
	// ActiveConns is the number of open client connections.
	ActiveConns() int
	// Events is where the proxy's data-plane events wait for the event
	// pipeline (events.Pipeline.Follow).
	Events() *inspect.Feed
}
