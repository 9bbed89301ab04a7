// Package modbusproxy carries the Modbus inspection engine (package modbus)
// on TCP connections: it accepts client connections (usually redirected to
// it by the gateway's nftables ruleset), checks every request against the
// connection's live policy, forwards allowed requests over its own
// connection to the device, answers denied ones with an exception or a
// reset, and reports events to a sink. It enforces connection limits and
// timeouts, and closes connections a reload no longer allows (CloseConns).
//
// The data path is a few epoll event loops (loop.go) that serve client and
// device sockets alike: answers go to the client as soon as they match an
// outstanding request, every request has its own response deadline, and a
// device stream that loses its framing is closed and reconnected. Each
// loop sleeps in its own epoll_pwait and holds a P of its own: the proxy
// raises GOMAXPROCS by its number of loops while they run (procs.go).
// Linux only.
//
// Inspector adapts the proxy to the protocol-neutral contract of package
// inspect, which is how the gateway daemon runs it.
package modbusproxy
