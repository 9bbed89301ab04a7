package modbus

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// Sizes of a Modbus/TCP frame (ADU): the 7-byte MBAP header followed by the
// PDU (function code and data).
const (
	MBAPHeaderLen = 7   // transaction id (2), protocol id (2), length (2), unit id (1)
	MinFrameLen   = 8   // header and a function code
	MaxFrameLen   = 260 // header and the largest PDU (253 bytes)
	MaxPDULen     = MaxFrameLen - MBAPHeaderLen

	minLengthField = MinFrameLen - 6 // the MBAP length counts the unit id and the PDU
	maxLengthField = MaxFrameLen - 6
)

// Frame is one complete Modbus/TCP frame: MBAP header and PDU. Frames
// returned by a Framer are views into its buffer and stay valid only until
// the next call of Next; copy what must be kept.
type Frame []byte

// TransactionID returns the MBAP transaction identifier.
func (f Frame) TransactionID() uint16 { return binary.BigEndian.Uint16(f[0:2]) }

// ProtocolID returns the MBAP protocol identifier (0 for Modbus).
func (f Frame) ProtocolID() uint16 { return binary.BigEndian.Uint16(f[2:4]) }

// LengthField returns the MBAP length field: the number of bytes after it.
func (f Frame) LengthField() uint16 { return binary.BigEndian.Uint16(f[4:6]) }

// Unit returns the unit identifier.
func (f Frame) Unit() uint8 { return f[6] }

// Function returns the function code (with the 0x80 bit in exception
// responses).
func (f Frame) Function() FunctionCode { return FunctionCode(f[7]) }

// PDU returns the protocol data unit: function code and data.
func (f Frame) PDU() []byte { return f[MBAPHeaderLen:] }

// SetTransactionID overwrites the transaction identifier in place.
func (f Frame) SetTransactionID(id uint16) { binary.BigEndian.PutUint16(f[0:2], id) }

// FrameErrorKind says what was wrong with a frame header.
type FrameErrorKind uint8

// Kinds of framing errors.
const (
	FrameBadProtocolID FrameErrorKind = iota + 1 // protocol identifier is not 0
	FrameTooShort                                // MBAP length field < 2: no function code
	FrameTooLong                                 // MBAP length field > 254: frame over 260 bytes
	FrameTruncated                               // the stream ended inside a frame
)

func (k FrameErrorKind) String() string {
	switch k {
	case FrameBadProtocolID:
		return "bad_protocol_id"
	case FrameTooShort:
		return "frame_too_short"
	case FrameTooLong:
		return "frame_too_long"
	case FrameTruncated:
		return "frame_truncated"
	}
	return fmt.Sprintf("frame_error(%d)", uint8(k))
}

// FrameError is a malformed Modbus/TCP frame. The byte stream cannot be
// resynchronised after it: the connection must be closed.
type FrameError struct {
	Kind       FrameErrorKind
	ProtocolID uint16 // as received (FrameBadProtocolID)
	Length     uint16 // MBAP length field as received (FrameTooShort, FrameTooLong)
	Buffered   int    // bytes of the incomplete frame (FrameTruncated)
}

func (e *FrameError) Error() string {
	switch e.Kind {
	case FrameBadProtocolID:
		return fmt.Sprintf("modbus: MBAP protocol identifier is 0x%04x, not 0: the peer does not speak Modbus/TCP; close the connection", e.ProtocolID)
	case FrameTooShort:
		return fmt.Sprintf("modbus: MBAP length field %d is below %d (unit id and function code): close the connection", e.Length, minLengthField)
	case FrameTooLong:
		return fmt.Sprintf("modbus: MBAP length field %d is above %d (frame longer than %d bytes): close the connection", e.Length, maxLengthField, MaxFrameLen)
	case FrameTruncated:
		return fmt.Sprintf("modbus: connection ended inside a frame after %d bytes", e.Buffered)
	}
	return "modbus: malformed frame"
}

// Is makes errors.Is(err, io.ErrUnexpectedEOF) true for truncated frames.
func (e *FrameError) Is(target error) bool {
	return e.Kind == FrameTruncated && target == io.ErrUnexpectedEOF
}

// DefaultFramerBufferSize is the buffer size NewFramer uses when given none.
// Two maximal frames fit, so pipelined requests need few reads.
const DefaultFramerBufferSize = 2 * MaxFrameLen

// Framer cuts a byte stream into Modbus/TCP frames. It reads into one
// reusable buffer and never allocates after construction. It copes with
// partial reads, several frames in one read and frames split across reads.
// A Framer is not safe for concurrent use.
type Framer struct {
	r     io.Reader
	buf   []byte
	start int   // first unconsumed byte
	end   int   // end of buffered data
	err   error // sticky framing error
}

// NewFramer returns a Framer reading from r. buf is the working buffer and
// must hold at least MaxFrameLen bytes; nil allocates
// DefaultFramerBufferSize bytes.
func NewFramer(r io.Reader, buf []byte) *Framer {
	f := &Framer{}
	f.Reset(r, buf)
	return f
}

// Reset makes f read from r with buf as working buffer (nil keeps the current
// buffer, or allocates one), dropping buffered data and any error.
func (f *Framer) Reset(r io.Reader, buf []byte) {
	if buf == nil {
		buf = f.buf
	}
	if buf == nil {
		buf = make([]byte, DefaultFramerBufferSize)
	}
	if len(buf) < MaxFrameLen {
		panic("modbus: framer buffer shorter than MaxFrameLen")
	}
	*f = Framer{r: r, buf: buf}
}

// Buffered returns the number of bytes read but not yet returned as frames.
func (f *Framer) Buffered() int { return f.end - f.start }

// maxEmptyReads bounds how often a reader may return (0, nil) in a row.
const maxEmptyReads = 100

// Next returns the next frame. The frame is a view into the Framer's buffer,
// valid until the next call. At a clean end of stream it returns io.EOF; a
// malformed header or a stream ending inside a frame gives a *FrameError,
// after which every call returns the same error. Errors of the underlying
// reader (such as deadline timeouts) are returned as they are and leave the
// Framer usable.
func (f *Framer) Next() (Frame, error) {
	if f.err != nil {
		return nil, f.err
	}
	empty := 0
	for {
		n, err := f.frameLen()
		if err != nil {
			f.err = err
			return nil, err
		}
		if n > 0 && f.end-f.start >= n {
			fr := Frame(f.buf[f.start : f.start+n : f.start+n])
			f.start += n
			if f.start == f.end {
				f.start, f.end = 0, 0
			}
			return fr, nil
		}
		// Make room for the rest of the frame at the end of the buffer.
		need := n
		if need == 0 {
			need = MBAPHeaderLen
		}
		if len(f.buf)-f.start < need {
			f.end = copy(f.buf, f.buf[f.start:f.end])
			f.start = 0
		}
		m, rerr := f.r.Read(f.buf[f.end:])
		f.end += m
		if m > 0 {
			empty = 0
			continue
		}
		if rerr == nil {
			if empty++; empty >= maxEmptyReads {
				return nil, io.ErrNoProgress
			}
			continue
		}
		if rerr == io.EOF || isWrapped(rerr) && errors.Is(rerr, io.EOF) {
			if f.end == f.start {
				return nil, io.EOF
			}
			f.err = &FrameError{Kind: FrameTruncated, Buffered: f.end - f.start}
			return nil, f.err
		}
		return nil, rerr
	}
}

// isWrapped reports whether err wraps other errors or says what it is:
// only then can errors.Is find io.EOF in it. (The proxy's reader returns a plain
// "would block" error for every request; errors.Is on it is not free.)
func isWrapped(err error) bool {
	switch err.(type) {
	case interface{ Unwrap() error }, interface{ Unwrap() []error }, interface{ Is(error) bool }:
		return true
	}
	return false
}

// frameLen checks the buffered header bytes as soon as they arrive and
// returns the total length of the frame at the start of the buffer, or 0 if
// the header is not complete yet.
func (f *Framer) frameLen() (int, error) {
	n, kind := FrameLength(f.buf[f.start:f.end])
	switch kind {
	case 0:
		return n, nil
	case FrameBadProtocolID:
		return 0, &FrameError{Kind: kind, ProtocolID: binary.BigEndian.Uint16(f.buf[f.start+2:])}
	}
	return 0, &FrameError{Kind: kind, Length: binary.BigEndian.Uint16(f.buf[f.start+4:])}
}

// FrameLength looks at the start of a Modbus/TCP byte stream and returns
// the length of the frame that starts there (which may be longer than b),
// or 0 while the header is not complete. The header is checked as soon as
// its bytes are there: a protocol identifier other than 0, or a length
// field that gives no function code or a frame over MaxFrameLen, is a
// framing error (kind non-zero) after which the stream cannot be
// resynchronised. It does not allocate.
func FrameLength(b []byte) (int, FrameErrorKind) {
	if len(b) >= 4 {
		if p := binary.BigEndian.Uint16(b[2:4]); p != 0 {
			return 0, FrameBadProtocolID
		}
	}
	if len(b) < 6 {
		return 0, 0
	}
	l := binary.BigEndian.Uint16(b[4:6])
	switch {
	case l < minLengthField:
		return 0, FrameTooShort
	case l > maxLengthField:
		return 0, FrameTooLong
	}
	return 6 + int(l), 0
}
