// Package proxy is the runtime contract between the gateway daemon and the
// TCP proxies that carry an inspection engine: for each inspected protocol
// (see package inspect) an Inspector compiles a conduit's rules into a
// policy and starts a Proxy, which serves the connections the ruleset
// redirects to it, takes new policies on reload and closes the connections
// a reload no longer allows. The daemon drives every inspector the same
// way; only the Inspector implementation (protocols/modbusproxy for
// Modbus/TCP) knows the protocol.
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

// ErrClosed is returned by Proxy.Serve after Shutdown or Close.
var ErrClosed = errors.New("proxy closed")

// Route is where a proxy sends one client connection.
type Route struct {
	Upstream netip.AddrPort // the device to connect to
	Conduit  string         // the conduit whose policy applies; names events and counters
}

// Config configures the proxy of one inspector.
type Config struct {
	// Route decides, for an accepted client connection, where to forward
	// it; an error refuses the connection. Required.
	Route func(client net.Conn) (Route, error)
	// Sink receives the data-plane events for the audit log (denied
	// requests, allowed writes); nil: none.
	Sink inspect.Sink
	// Log receives operational messages and the proxy's events; nil: none.
	Log *zap.Logger
	// ResponseTimeout is how long a device has to answer a forwarded
	// request when the conduit's policy sets no time of its own; 0: the
	// inspector's default.
	ResponseTimeout time.Duration
}

// Policy is an inspector's compiled rules for one conduit. Only the proxy
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
	// NewProxy returns a proxy; the caller runs Serve.
	NewProxy(cfg Config) (Proxy, error)
}

// Proxy is a running inspecting proxy.
type Proxy interface {
	// Serve accepts connections on ln until ln fails or the proxy is shut
	// down, then returns ErrClosed (wrapped or as is) or the accept error.
	Serve(ln net.Listener) error
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
}
