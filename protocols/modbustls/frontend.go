package modbustls

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
	"golang.org/x/sys/unix"

	"github.com/zonegate/zonegate/protocols/inspect"
	"github.com/zonegate/zonegate/protocols/modbus"
	"github.com/zonegate/zonegate/protocols/modbustcp"
	"github.com/zonegate/zonegate/protocols/proxy"
)

// Reasons of refused handshakes: the event's reason, metric label and
// audit detail.
const (
	ReasonNoCertificate = "tls-no-client-certificate"
	ReasonUntrusted     = "tls-untrusted-certificate"
	ReasonExpired       = "tls-certificate-expired"
	ReasonRevoked       = "tls-certificate-revoked"
	ReasonBadRole       = "tls-bad-role-extension"
	ReasonVersion       = "tls-version-refused"
	ReasonHandshake     = "tls-handshake-failed"
	ReasonNotSecure     = "tls-conduit-not-secure"
	ReasonBusy          = "tls-handshake-limit"
)

// Handshakes in progress are bounded, so that clients that connect and
// never finish a handshake hold no more than this many goroutines and
// sockets (the proxy's connection limits apply once a handshake is done).
const (
	MaxHandshakes          = 256
	MaxHandshakesPerSource = 16
)

// HandshakeError is why a handshake was refused.
type HandshakeError struct {
	Reason string // one of the Reason constants
	Err    error
}

func (e *HandshakeError) Error() string { return e.Reason + ": " + e.Err.Error() }
func (e *HandshakeError) Unwrap() error { return e.Err }

// cipherSuites are the TLS 1.2 suites with forward secrecy (ECDHE) and
// AEAD; TLS 1.3's are all forward secret.
var cipherSuites = []uint16{
	tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
	tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
}

// HandshakeTimeout bounds a client's TLS handshake.
const HandshakeTimeout = 10 * time.Second

// FrontEnd terminates Modbus/TCP Security for the Modbus proxy px: one
// TLS handshake per connection (Handle), then the decrypted stream goes
// to px through a socket pair, with the client's identity in its route.
type FrontEnd struct {
	px  proxy.Proxy
	log *zap.Logger
	// Now is the clock of certificate checks; nil: time.Now.
	Now func() time.Time

	mu       sync.Mutex
	material map[string]*Material // conduit -> its TLS material
	sessions map[*session]struct{}
	closed   bool
	pending  int                // handshakes in progress
	perSrc   map[netip.Addr]int // handshakes in progress per source address

	Handshakes atomic.Uint64 // completed and admitted
	Failed     atomic.Uint64 // refused
}

// session is one open TLS session.
type session struct {
	tc      *tls.Conn
	pipe    net.Conn
	conduit string
	leaf    *x509.Certificate
	fp      string
}

// New returns the front end of the Modbus proxy px.
func New(px proxy.Proxy, log *zap.Logger) *FrontEnd {
	if log == nil {
		log = zap.NewNop()
	}
	return &FrontEnd{px: px, log: log, material: map[string]*Material{}, sessions: map[*session]struct{}{}, perSrc: map[netip.Addr]int{}}
}

func (f *FrontEnd) now() time.Time {
	if f.Now != nil {
		return f.Now()
	}
	return time.Now()
}

// Install makes m (conduit -> material) the material of new handshakes.
// Open sessions keep going; the caller closes the ones Valid refuses now
// (proxy.Proxy.CloseConns).
func (f *FrontEnd) Install(m map[string]*Material) {
	f.mu.Lock()
	f.material = m
	f.mu.Unlock()
}

// Secure reports whether conduit terminates Modbus/TCP Security.
func (f *FrontEnd) Secure(conduit string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.material[conduit] != nil
}

// Valid reports whether the certificate of a TLS connection of route r
// still passes under the installed material (same conduit, CA, CRL,
// validity). Connections without an identity are valid.
func (f *FrontEnd) Valid(r proxy.Route) bool {
	if r.Identity.Fingerprint == "" {
		return true
	}
	f.mu.Lock()
	m := f.material[r.Conduit]
	var leaf *x509.Certificate
	for s := range f.sessions {
		if s.fp == r.Identity.Fingerprint && s.conduit == r.Conduit {
			leaf = s.leaf
			break
		}
	}
	f.mu.Unlock()
	if m == nil || leaf == nil {
		return false
	}
	_, err := m.Verify([]*x509.Certificate{leaf}, f.now())
	return err == nil
}

// config is the TLS configuration of a conduit's material.
func (f *FrontEnd) config(m *Material) *tls.Config {
	return &tls.Config{
		Certificates: []tls.Certificate{m.Cert},
		MinVersion:   tls.VersionTLS12,
		CipherSuites: cipherSuites,
		// Every session proves its certificate again: no resumption
		// from a ticket issued before a revocation or a reload.
		SessionTicketsDisabled: true,
		// Verified below against the conduit's CAs, CRL and the role
		// extension, so that a refusal has a precise reason.
		ClientAuth: tls.RequireAnyClientCert,
		VerifyConnection: func(cs tls.ConnectionState) error {
			_, err := m.Verify(cs.PeerCertificates, f.now())
			return err
		},
	}
}

// Handle runs the TLS handshake on nc, a connection to port 802 of a
// secure conduit from client, and serves it until it ends: the decrypted
// Modbus/TCP goes to the proxy on route (device address, conduit) with
// the certificate's identity. A refused handshake is reported as a
// Refused event with its reason and logged with the peer. It blocks: run
// it in a goroutine of its own.
func (f *FrontEnd) Handle(nc net.Conn, client netip.AddrPort, route proxy.Route) {
	f.mu.Lock()
	m := f.material[route.Conduit]
	busy := f.pending >= MaxHandshakes || f.perSrc[client.Addr()] >= MaxHandshakesPerSource
	if !busy {
		f.pending++
		f.perSrc[client.Addr()]++
	}
	f.mu.Unlock()
	if busy {
		f.refuse(nc, client, route, &HandshakeError{Reason: ReasonBusy, Err: fmt.Errorf("too many handshakes in progress (at most %d, %d per source address)", MaxHandshakes, MaxHandshakesPerSource)})
		return
	}
	done := func() {
		f.mu.Lock()
		f.pending--
		if f.perSrc[client.Addr()]--; f.perSrc[client.Addr()] <= 0 {
			delete(f.perSrc, client.Addr())
		}
		f.mu.Unlock()
	}
	if m == nil {
		done()
		f.refuse(nc, client, route, &HandshakeError{Reason: ReasonNotSecure, Err: fmt.Errorf("conduit %s has no tls block", route.Conduit)})
		return
	}
	tc := tls.Server(nc, f.config(m))
	ctx, cancel := context.WithTimeout(context.Background(), HandshakeTimeout)
	err := tc.HandshakeContext(ctx)
	cancel()
	done()
	if err != nil {
		f.refuse(nc, client, route, classify(err))
		return
	}
	cs := tc.ConnectionState()
	leaf := cs.PeerCertificates[0]
	role, _ := Role(leaf) // checked in the handshake
	sum := Fingerprint(leaf)
	route.Identity = proxy.Identity{Role: role, Subject: leaf.Subject.String(), Fingerprint: hex.EncodeToString(sum[:])}

	mine, theirs, err := socketPair()
	if err != nil {
		f.log.Error("Modbus/TCP Security: no socket pair for a session: connection closed", zap.Error(err))
		tc.Close()
		return
	}
	s := &session{tc: tc, pipe: mine, conduit: route.Conduit, leaf: leaf, fp: route.Identity.Fingerprint}
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		tc.Close()
		mine.Close()
		theirs.Close()
		return
	}
	f.sessions[s] = struct{}{}
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		delete(f.sessions, s)
		f.mu.Unlock()
	}()
	f.opened(client, route, cs.Version, sum, route.Identity.Subject)
	if err := f.px.Admit(theirs, client, route); err != nil {
		// Admit reported it (a connection limit).
		tc.Close()
		mine.Close()
		return
	}
	f.Handshakes.Add(1)
	pump(tc, mine)
}

// pump copies between the TLS connection and the proxy's socket until
// either ends.
func pump(tc *tls.Conn, pipe net.Conn) {
	done := make(chan struct{})
	go func() {
		_, _ = io.Copy(pipe, tc)
		// The client is done: the proxy answers what it read, then
		// closes its end, which ends the copy below.
		if cw, ok := pipe.(interface{ CloseWrite() error }); ok {
			_ = cw.CloseWrite()
		}
		close(done)
	}()
	_, _ = io.Copy(deadlineWriter{tc}, pipe)
	tc.Close()
	pipe.Close()
	<-done
}

// WriteTimeout bounds a client taking the bytes sent to it (as the
// proxy's own WriteTimeout does for plain clients): a client that stops
// reading is closed instead of holding its session.
const WriteTimeout = 10 * time.Second

// deadlineWriter writes to a TLS connection under WriteTimeout.
type deadlineWriter struct{ tc *tls.Conn }

func (w deadlineWriter) Write(b []byte) (int, error) {
	_ = w.tc.SetWriteDeadline(time.Now().Add(WriteTimeout))
	return w.tc.Write(b)
}

// socketPair returns the two ends of a Unix stream socket pair.
func socketPair() (net.Conn, net.Conn, error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("socketpair: %w", err)
	}
	conns := make([]net.Conn, 2)
	for i, fd := range fds {
		file := os.NewFile(uintptr(fd), "modbustls")
		c, err := net.FileConn(file)
		file.Close()
		if err != nil {
			if i == 1 {
				conns[0].Close()
			} else {
				unix.Close(fds[1])
			}
			return nil, nil, err
		}
		conns[i] = c
	}
	return conns[0], conns[1], nil
}

// classify turns a handshake error into its reason.
func classify(err error) *HandshakeError {
	var he *HandshakeError
	if errors.As(err, &he) {
		return he
	}
	msg := err.Error()
	switch {
	case strings.Contains(msg, "duplicate extension") && strings.Contains(msg, RoleOID.String()):
		// crypto/x509 refuses the certificate before the role is read.
		return &HandshakeError{Reason: ReasonBadRole, Err: err}
	case strings.Contains(msg, "didn't provide a certificate"):
		return &HandshakeError{Reason: ReasonNoCertificate, Err: err}
	case strings.Contains(msg, "unsupported versions"), strings.Contains(msg, "protocol version"):
		return &HandshakeError{Reason: ReasonVersion, Err: err}
	}
	return &HandshakeError{Reason: ReasonHandshake, Err: err}
}

// refuse closes a connection whose handshake failed and reports it: a
// Refused event (a security event) and a warning with the peer.
func (f *FrontEnd) refuse(nc net.Conn, client netip.AddrPort, route proxy.Route, he *HandshakeError) {
	nc.Close()
	f.Failed.Add(1)
	ev := inspect.Event{Protocol: "modbus", Kind: inspect.Refused, Time: f.now(), Source: client,
		Destination: route.Upstream, Conduit: route.Conduit, Reason: he.Reason}
	ev.Summary.Add("tls handshake from ").Add(client.String())
	f.px.Events().Push(&ev)
	f.log.Warn("Modbus/TCP Security handshake refused", zap.String("reason", he.Reason), zap.Stringer("peer", client),
		zap.String("conduit", route.Conduit), zap.Error(he.Err))
}

// opened reports an opened session with its certificate.
func (f *FrontEnd) opened(client netip.AddrPort, route proxy.Route, version uint16, sum [32]byte, subject string) {
	ev := inspect.Event{Protocol: "modbus", Kind: inspect.Opened, Time: f.now(), Source: client,
		Destination: route.Upstream, Conduit: route.Conduit, Role: route.Identity.Role}
	ev.Summary.Add("tls session ").Add(subject)
	modbustcp.SetOpenedData(&ev, version, sum, subject)
	f.px.Events().Push(&ev)
}

// Close ends every open session.
func (f *FrontEnd) Close() {
	f.mu.Lock()
	f.closed = true
	all := make([]*session, 0, len(f.sessions))
	for s := range f.sessions {
		all = append(all, s)
	}
	f.mu.Unlock()
	for _, s := range all {
		s.tc.Close()
		s.pipe.Close()
	}
}

// Handshaking is the number of handshakes in progress.
func (f *FrontEnd) Handshaking() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.pending
}

// Sessions is the number of open TLS sessions.
func (f *FrontEnd) Sessions() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.sessions)
}

// DevicePort is where a secure conduit's device listens.
func DevicePort(sec *modbus.Security) uint16 { return sec.Port() }
