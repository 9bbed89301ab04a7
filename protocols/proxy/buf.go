package proxy

import (
	"errors"
	"io"
	"time"
)

// inbuf holds the bytes read from one side of a connection that are not
// yet taken as frames. It grows, up to max, as a frame needs; a frame it
// returns is a view that stays valid until the next call of next.
type inbuf struct {
	b          []byte
	start, end int
	max        int
	ferr       error // the codec's framing error, with errFraming
}

// Errors of inbuf.next besides the reader's and errWouldBlock.
var (
	// errFraming: the codec refused the stream (inbuf.ferr says why).
	errFraming = errors.New("proxy: framing error")
	// errTruncated: the stream ended inside a frame.
	errTruncated = errors.New("the stream ended inside a frame")
	// errTooLong: a frame longer than the codec's Framing allows.
	errTooLong = errors.New("frame longer than the protocol allows")
)

func newInbuf(max int) inbuf {
	return inbuf{b: make([]byte, min(2*max, 4096)), max: max}
}

// buffered is the number of bytes read and not yet taken.
func (in *inbuf) buffered() int { return in.end - in.start }

// next returns the next complete frame, reading from s as needed:
// errWouldBlock when s has nothing more this round, io.EOF at a clean end
// of the stream, errFraming, errTruncated or errTooLong when the stream
// is broken, or the reader's error.
func (in *inbuf) next(s *sock, split func([]byte) (int, error)) ([]byte, error) {
	for {
		avail := in.end - in.start
		n, err := split(in.b[in.start:in.end])
		if err != nil {
			in.ferr = err
			return nil, errFraming
		}
		if n > 0 && n <= avail {
			f := in.b[in.start : in.start+n : in.start+n]
			in.start += n
			if in.start == in.end {
				in.start, in.end = 0, 0
			}
			return f, nil
		}
		need := n
		if need == 0 {
			need = avail + 1
		}
		if need > in.max {
			return nil, errTooLong
		}
		if len(in.b)-in.start < need {
			if len(in.b) < need {
				nb := make([]byte, min(max(need, 2*len(in.b)), in.max))
				in.end = copy(nb, in.b[in.start:in.end])
				in.b = nb
			} else {
				in.end = copy(in.b, in.b[in.start:in.end])
			}
			in.start = 0
		}
		m, rerr := s.read(in.b[in.end:])
		in.end += m
		switch {
		case m > 0:
			continue
		case rerr == io.EOF && avail > 0:
			return nil, errTruncated
		}
		return nil, rerr
	}
}

// framingError is the text of a broken stream's error for the event's
// sample.
func (in *inbuf) framingError(err error) error {
	if err == errFraming {
		return in.ferr
	}
	return err
}

// writeOut writes out to fd; what the socket does not take stays in out,
// and the peer has WriteTimeout to take it (stalled).
func (l *loop) writeOut(fd int, out *[]byte, since *time.Time, stalled *bool) error {
	n, err := rawWrite(fd, *out)
	if err != nil {
		if err != errAgain && err != errIntr {
			return err
		}
		n = 0
	}
	rest := copy(*out, (*out)[n:])
	*out = (*out)[:rest]
	switch {
	case rest == 0:
		*stalled = false
	case !*stalled || n > 0:
		*since, *stalled = l.now, true
		l.arm(l.now.Add(l.e.cfg.WriteTimeout))
	}
	return nil
}
