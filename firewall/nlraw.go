package firewall

import (
	"encoding/binary"
	"errors"
	"fmt"
	"syscall"
	"time"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// rawConn is a netfilter netlink socket used without google/nftables: to
// send a whole batch with one acknowledgement and to dump all rules of
// the table in one request. It reads whole datagrams into one reused
// buffer instead of peeking at each message.
type rawConn struct {
	nl   *netlink.Conn
	rc   syscall.RawConn
	seq  uint32
	buf  []byte
	free chan []byte // datagram buffers of dump, reused
}

// rawReadTimeout bounds the wait for the kernel's answer: the kernel
// processes a batch inside sendmsg, so answers are queued by the time it
// returns; the bound only protects against a lost acknowledgement.
const rawReadTimeout = 60 * time.Second

func (t Target) rawConn() (*rawConn, error) {
	if err := t.usable(); err != nil {
		return nil, err
	}
	nl, err := netlink.Dial(unix.NETLINK_NETFILTER, &netlink.Config{NetNS: t.fd()})
	if err != nil {
		return nil, fmt.Errorf("open nftables netlink socket: %w", err)
	}
	rc, err := nl.SyscallConn()
	if err != nil {
		nl.Close()
		return nil, fmt.Errorf("open nftables netlink socket: %w", err)
	}
	c := &rawConn{nl: nl, rc: rc, seq: uint32(time.Now().Unix()), buf: make([]byte, 256<<10)}
	// Large buffers: the forced variants need CAP_NET_ADMIN and ignore
	// net.core.[rw]mem_max; without it fall back to the capped ones.
	_ = rc.Control(func(fd uintptr) {
		for _, o := range [][2]int{{unix.SO_SNDBUFFORCE, unix.SO_SNDBUF}, {unix.SO_RCVBUFFORCE, unix.SO_RCVBUF}} {
			if unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, o[0], socketBuffer) != nil {
				_ = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, o[1], socketBuffer)
			}
		}
		_ = unix.SetsockoptInt(int(fd), unix.SOL_NETLINK, unix.NETLINK_EXT_ACK, 1)
	})
	return c, nil
}

func (c *rawConn) Close() error { return c.nl.Close() }

func (c *rawConn) nextSeq() uint32 {
	c.seq++
	return c.seq
}

// send writes b (one or more netlink messages) in one sendmsg.
func (c *rawConn) send(b []byte) error {
	var serr error
	err := c.rc.Write(func(fd uintptr) bool {
		serr = unix.Sendto(int(fd), b, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK})
		return !errors.Is(serr, unix.EAGAIN)
	})
	if err != nil {
		return err
	}
	if serr != nil {
		return fmt.Errorf("sendmsg of %d bytes: %w", len(b), serr)
	}
	return nil
}

// read reads one datagram into b and returns its length; a datagram
// longer than b is an error, not silently cut.
func (c *rawConn) read(b []byte) (int, error) {
	_ = c.nl.SetReadDeadline(time.Now().Add(rawReadTimeout))
	var n int
	var rerr error
	err := c.rc.Read(func(fd uintptr) bool {
		n, _, rerr = unix.Recvfrom(int(fd), b, unix.MSG_TRUNC)
		return !errors.Is(rerr, unix.EAGAIN)
	})
	if err != nil {
		return 0, fmt.Errorf("recvmsg: %w", err)
	}
	if rerr != nil {
		return 0, fmt.Errorf("recvmsg: %w", rerr)
	}
	if n > len(b) {
		return 0, fmt.Errorf("recvmsg: a datagram of %d bytes does not fit the buffer of %d", n, len(b))
	}
	return n, nil
}

// recv reads one datagram and calls fn for every netlink message in it.
func (c *rawConn) recv(fn func(h unix.NlMsghdr, data []byte) (more bool, err error)) (bool, error) {
	n, err := c.read(c.buf)
	if err != nil {
		return false, err
	}
	return eachMsg(c.buf[:n], fn)
}

// eachMsg calls fn for every netlink message in the datagram b.
func eachMsg(b []byte, fn func(h unix.NlMsghdr, data []byte) (more bool, err error)) (bool, error) {
	n := len(b)
	more := true
	for len(b) >= unix.NLMSG_HDRLEN {
		var h unix.NlMsghdr
		h.Len = binary.NativeEndian.Uint32(b[0:4])
		h.Type = binary.NativeEndian.Uint16(b[4:6])
		h.Flags = binary.NativeEndian.Uint16(b[6:8])
		h.Seq = binary.NativeEndian.Uint32(b[8:12])
		h.Pid = binary.NativeEndian.Uint32(b[12:16])
		if h.Len < unix.NLMSG_HDRLEN || int(h.Len) > len(b) {
			return false, fmt.Errorf("malformed netlink message of %d bytes in a datagram of %d", h.Len, n)
		}
		m, err := fn(h, b[unix.NLMSG_HDRLEN:h.Len])
		if err != nil {
			return false, err
		}
		more = more && m
		b = b[min(len(b), nlAlign(int(h.Len))):]
	}
	return more, nil
}

func nlAlign(n int) int { return (n + 3) &^ 3 }

// appendMsg appends one netlink message with the given header fields.
func appendMsg(b []byte, typ, flags uint16, seq uint32, data []byte) []byte {
	b = binary.NativeEndian.AppendUint32(b, uint32(unix.NLMSG_HDRLEN+len(data)))
	b = binary.NativeEndian.AppendUint16(b, typ)
	b = binary.NativeEndian.AppendUint16(b, flags)
	b = binary.NativeEndian.AppendUint32(b, seq)
	b = binary.NativeEndian.AppendUint32(b, 0)
	b = append(b, data...)
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

// nlError decodes the errno of an NLMSG_ERROR message (0 is an ack) and
// the sequence number of the request it answers.
func nlError(data []byte) (errno syscall.Errno, seq uint32, ok bool) {
	if len(data) < 4+unix.NLMSG_HDRLEN {
		return 0, 0, false
	}
	code := int32(binary.NativeEndian.Uint32(data[0:4]))
	return syscall.Errno(-code), binary.NativeEndian.Uint32(data[4+8 : 4+12]), true
}

// dump sends one NLM_F_DUMP request and calls fn with the attributes of
// every answer (after struct nfgenmsg) until the dump is done. One
// goroutine reads datagrams (the kernel fills each inside recvmsg) while
// this one decodes the previous ones.
func (c *rawConn) dump(msgType uint16, family byte, attrs []byte, fn func(attrs []byte) error) error {
	seq := c.nextSeq()
	data := append([]byte{family, unix.NFNETLINK_V0, 0, 0}, attrs...)
	req := appendMsg(nil, uint16(unix.NFNL_SUBSYS_NFTABLES<<8)|msgType, unix.NLM_F_REQUEST|unix.NLM_F_DUMP, seq, data)
	if err := c.send(req); err != nil {
		return err
	}
	const nbufs = 4
	if c.free == nil {
		c.free = make(chan []byte, nbufs)
		for i := 0; i < nbufs; i++ {
			c.free <- make([]byte, 256<<10)
		}
	}
	free := c.free
	type chunk struct {
		b   []byte
		err error
	}
	chunks := make(chan chunk, nbufs)
	go func() {
		defer close(chunks)
		for {
			b := <-free
			n, err := c.read(b)
			if err != nil {
				chunks <- chunk{err: err}
				return
			}
			last := false
			_, _ = eachMsg(b[:n], func(h unix.NlMsghdr, _ []byte) (bool, error) {
				if h.Seq == seq && (h.Type == unix.NLMSG_DONE || h.Type == unix.NLMSG_ERROR) {
					last = true
				}
				return true, nil
			})
			chunks <- chunk{b: b[:n]}
			if last {
				return
			}
		}
	}()
	var firstErr error
	for ch := range chunks {
		if ch.err != nil {
			return ch.err // the reader has stopped
		}
		if firstErr == nil {
			_, firstErr = eachMsg(ch.b, func(h unix.NlMsghdr, data []byte) (bool, error) {
				if h.Seq != seq {
					return true, nil // a late answer to an earlier request
				}
				switch h.Type {
				case unix.NLMSG_DONE:
					if len(data) >= 4 {
						if code := int32(binary.NativeEndian.Uint32(data)); code < 0 {
							return false, syscall.Errno(-code)
						}
					}
					return false, nil
				case unix.NLMSG_ERROR:
					if errno, _, ok := nlError(data); ok && errno != 0 {
						return false, errno
					}
					return false, nil
				}
				if len(data) < 4 {
					return true, nil
				}
				return true, fn(data[4:])
			})
		}
		free <- ch.b[:cap(ch.b)]
	}
	return firstErr
}

// generation reads the ruleset generation (NFT_MSG_GETGEN).
func (c *rawConn) generation() (uint32, error) {
	seq := c.nextSeq()
	req := appendMsg(nil, uint16(unix.NFNL_SUBSYS_NFTABLES<<8|unix.NFT_MSG_GETGEN), unix.NLM_F_REQUEST|unix.NLM_F_ACK, seq,
		[]byte{unix.AF_UNSPEC, unix.NFNETLINK_V0, 0, 0})
	if err := c.send(req); err != nil {
		return 0, err
	}
	var gen uint32
	found, acked := false, false
	for !acked {
		_, err := c.recv(func(h unix.NlMsghdr, data []byte) (bool, error) {
			if h.Seq != seq {
				return true, nil
			}
			if h.Type == unix.NLMSG_ERROR {
				acked = true
				if errno, _, ok := nlError(data); ok && errno != 0 {
					return false, errno
				}
				return false, nil
			}
			if len(data) >= 4 {
				list, _ := attrs(data[4:], nil)
				for _, a := range list {
					if a.typ == unix.NFTA_GEN_ID && len(a.val) == 4 {
						gen, found = binary.BigEndian.Uint32(a.val), true
					}
				}
			}
			return true, nil
		})
		if err != nil {
			return 0, fmt.Errorf("read nftables generation: %w", err)
		}
	}
	if !found {
		return 0, fmt.Errorf("read nftables generation: no generation in the kernel's answer")
	}
	return gen, nil
}
