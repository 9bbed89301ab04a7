package audit

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"sync/atomic"
	"time"
)

// collectorConn is one connection to the syslog collector. A watcher
// goroutine reads from it (collectors send nothing) only to learn when and
// how the collector closes it.
type collectorConn struct {
	raw   *net.TCPConn
	c     net.Conn // raw, or TLS on top of it
	done  chan struct{}
	err   atomic.Pointer[error]
	isTLS bool
}

var errAckTimeout = errors.New("collector did not acknowledge the data in time")

func dialCollector(ctx context.Context, s *SyslogSettings, tc *tls.Config) (*collectorConn, error) {
	d := net.Dialer{Timeout: s.Timeout, KeepAlive: 30 * time.Second}
	nc, err := d.DialContext(ctx, "tcp", s.Address)
	if err != nil {
		return nil, err
	}
	raw := nc.(*net.TCPConn)
	cc := &collectorConn{raw: raw, c: raw, done: make(chan struct{})}
	if s.Transport == "tls" {
		t := tls.Client(raw, tc)
		hctx, cancel := context.WithTimeout(ctx, s.Timeout)
		err := t.HandshakeContext(hctx)
		cancel()
		if err != nil {
			raw.Close()
			return nil, fmt.Errorf("TLS handshake: %w", err)
		}
		cc.c = t
	}
	cc.isTLS = s.Transport == "tls"
	go cc.watch()
	return cc, nil
}

// watch waits for the collector to close the connection.
func (cc *collectorConn) watch() {
	buf := make([]byte, 256)
	var err error
	for err == nil {
		_, err = cc.c.Read(buf)
	}
	cc.err.Store(&err)
	close(cc.done)
}

// closedCleanly reports whether the collector is known to have read every
// byte it acknowledged before closing: a plain TCP close with FIN (a socket
// closed with unread data sends RST instead). Over TLS no close proves
// that: the TLS library may have read and dropped data during its
// shutdown, and rsyslog's GnuTLS driver was seen to reset connections
// after reading everything. So a TLS close never counts as clean.
func (cc *collectorConn) closedCleanly() bool {
	if cc.isTLS {
		return false
	}
	select {
	case <-cc.done:
		return errors.Is(*cc.err.Load(), io.EOF)
	default:
		return false
	}
}

func (cc *collectorConn) closeErr() error {
	select {
	case <-cc.done:
		err := *cc.err.Load()
		if errors.Is(err, io.EOF) {
			return errors.New("collector closed the connection")
		}
		return fmt.Errorf("collector connection lost: %w", err)
	default:
		return nil
	}
}

// waitAcked waits until the collector's TCP stack has acknowledged every
// byte written.
func (cc *collectorConn) waitAcked(ctx context.Context, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	poll := 200 * time.Microsecond
	for {
		n, err := unackedBytes(cc.raw)
		if err != nil {
			return err
		}
		if n == 0 {
			return nil
		}
		if err := cc.closeErr(); err != nil {
			return err
		}
		if time.Now().After(deadline) {
			return errAckTimeout
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(poll):
		}
		poll = min(2*poll, 10*time.Millisecond)
	}
}

func (cc *collectorConn) Close() error { return cc.c.Close() }
