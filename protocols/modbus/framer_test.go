package modbus

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"
	"testing/iotest"
)

// chunkReader returns its data in the given chunk sizes, then io.EOF.
type chunkReader struct {
	data   []byte
	chunks []int
}

func (r *chunkReader) Read(b []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, io.EOF
	}
	n := len(r.data)
	if len(r.chunks) > 0 {
		n = min(n, r.chunks[0])
		r.chunks = r.chunks[1:]
	}
	n = copy(b, r.data[:n])
	r.data = r.data[n:]
	return n, nil
}

func readAll(t *testing.T, f *Framer) ([][]byte, error) {
	t.Helper()
	var frames [][]byte
	for {
		fr, err := f.Next()
		if err != nil {
			return frames, err
		}
		frames = append(frames, bytes.Clone(fr))
		if len(frames) > 100000 {
			t.Fatal("framer does not stop")
		}
	}
}

func TestFramerDelivery(t *testing.T) {
	a := adu(1, 1, pdu(3, 0, 10))
	b := adu(2, 7, wrRegs(5, 1, 2, 3))
	c := adu(3, 255, cat([]byte{65}, bytes.Repeat([]byte{0xA5}, MaxPDULen-1))) // 260 bytes
	must(t, MaxFrameLen, len(c))
	stream := cat(a, b, c, a)
	want := [][]byte{a, b, c, a}

	cases := map[string]io.Reader{
		"one read":                  bytes.NewReader(stream),
		"1-byte trickle":            iotest.OneByteReader(bytes.NewReader(stream)),
		"half reads":                iotest.HalfReader(bytes.NewReader(stream)),
		"split inside header":       &chunkReader{data: stream, chunks: []int{3, 2, 1, 30}},
		"split inside pdu":          &chunkReader{data: stream, chunks: []int{len(a) + 9, 4, 200}},
		"several frames per read":   &chunkReader{data: stream, chunks: []int{len(a) + len(b) + 5}},
		"data with EOF":             iotest.DataErrReader(bytes.NewReader(stream)),
		"pipelined, boundary split": &chunkReader{data: stream, chunks: []int{len(a), len(b), len(c) - 1, 1, len(a)}},
	}
	for name, r := range cases {
		t.Run(name, func(t *testing.T) {
			got, err := readAll(t, NewFramer(r, nil))
			isErr(t, err, io.EOF)
			equal(t, want, got)
		})
	}
}

func TestFramerSmallestBuffer(t *testing.T) {
	// A buffer of exactly one maximal frame must still deliver everything.
	var stream []byte
	var want [][]byte
	for i := range 50 {
		fr := adu(uint16(i), 1, cat([]byte{16}, be(0, uint16(i%123+1)), []byte{byte(2 * (i%123 + 1))}, make([]byte, 2*(i%123+1))))
		stream = append(stream, fr...)
		want = append(want, fr)
	}
	got, err := readAll(t, NewFramer(&chunkReader{data: stream, chunks: []int{7, 100, 259, 3, 500}}, make([]byte, MaxFrameLen)))
	isErr(t, err, io.EOF)
	equal(t, want, got)
}

func TestFramerPipelinedMany(t *testing.T) {
	var stream []byte
	for i := range 10000 {
		stream = append(stream, adu(uint16(i), 1, pdu(3, uint16(i), 1))...)
	}
	f := NewFramer(&chunkReader{data: stream, chunks: []int{1460, 1460, 37, 9000, 1}}, nil)
	for i := range 10000 {
		fr, err := f.Next()
		noErr(t, err)
		must(t, uint16(i), fr.TransactionID())
		must(t, FuncReadHoldingRegisters, fr.Function())
	}
	_, err := f.Next()
	isErr(t, err, io.EOF)
}

func TestFramerErrors(t *testing.T) {
	good := adu(9, 1, pdu(3, 0, 1))
	cases := []struct {
		name   string
		stream []byte
		kind   FrameErrorKind
		good   int // frames delivered before the error
	}{
		{"bad protocol id", []byte{0, 1, 0x12, 0x34, 0, 6, 1, 3, 0, 0, 0, 1}, FrameBadProtocolID, 0},
		{"bad protocol id, header only", []byte{0, 1, 0, 1}, FrameBadProtocolID, 0},
		{"length 0", []byte{0, 1, 0, 0, 0, 0, 1}, FrameTooShort, 0},
		{"length 1: unit id only", []byte{0, 1, 0, 0, 0, 1, 1, 3}, FrameTooShort, 0},
		{"length 255: frame of 261 bytes", cat([]byte{0, 1, 0, 0, 0, 255}, make([]byte, 255)), FrameTooLong, 0},
		{"length 0xFFFF", []byte{0, 1, 0, 0, 0xFF, 0xFF, 1, 3}, FrameTooLong, 0},
		{"after a good frame", cat(good, []byte{0, 2, 0, 9, 0, 6}), FrameBadProtocolID, 1},
		{"truncated pdu", cat(good, good[:10]), FrameTruncated, 1},
		{"truncated header", cat(good, good[:3]), FrameTruncated, 1},
		{"length lies: longer than data", []byte{0, 1, 0, 0, 0, 20, 1, 3, 0, 0, 0, 1}, FrameTruncated, 0},
	}
	for _, tc := range cases {
		for _, trickle := range []bool{false, true} {
			name := tc.name
			var r io.Reader = bytes.NewReader(tc.stream)
			if trickle {
				name += "/trickle"
				r = iotest.OneByteReader(r)
			}
			t.Run(name, func(t *testing.T) {
				f := NewFramer(r, nil)
				frames, err := readAll(t, f)
				equal(t, tc.good, len(frames), "frames before the error")
				var fe *FrameError
				if !errors.As(err, &fe) {
					t.Fatalf("got %v, want a *FrameError", err)
				}
				equal(t, tc.kind, fe.Kind)
				// Sticky: the stream cannot be resynchronised.
				if _, err2 := f.Next(); err2 != err {
					t.Errorf("second Next: %v, want the same error again", err2)
				}
			})
		}
	}
}

func TestFramerErrorDetectedEarly(t *testing.T) {
	// A bad protocol id is refused after 4 bytes, without waiting for the
	// length the header announces.
	r := &chunkReader{data: []byte{0, 1, 0xAB, 0xCD}}
	f := NewFramer(r, nil)
	_, err := f.Next()
	var fe *FrameError
	if !errors.As(err, &fe) {
		t.Fatalf("got %v, want a *FrameError", err)
	}
	equal(t, FrameBadProtocolID, fe.Kind)
	equal(t, uint16(0xABCD), fe.ProtocolID)
	if !strings.Contains(fe.Error(), "0xabcd") {
		t.Errorf("error %q does not show the protocol id", fe.Error())
	}
}

func TestFramerTruncatedIsUnexpectedEOF(t *testing.T) {
	f := NewFramer(bytes.NewReader([]byte{0, 1, 0, 0, 0, 6, 1}), nil)
	_, err := f.Next()
	isErr(t, err, io.ErrUnexpectedEOF)
}

// timeoutReader fails with a deadline error once, in the middle of a frame.
type timeoutReader struct {
	parts [][]byte
	fail  bool
}

func (r *timeoutReader) Read(b []byte) (int, error) {
	if r.fail {
		r.fail = false
		return 0, os.ErrDeadlineExceeded
	}
	if len(r.parts) == 0 {
		return 0, io.EOF
	}
	n := copy(b, r.parts[0])
	r.parts = r.parts[1:]
	r.fail = true
	return n, nil
}

func TestFramerReaderErrorKeepsState(t *testing.T) {
	fr := adu(5, 1, pdu(4, 1, 2))
	r := &timeoutReader{parts: [][]byte{fr[:5], fr[5:]}}
	f := NewFramer(r, nil)
	_, err := f.Next()
	isErr(t, err, os.ErrDeadlineExceeded)
	equal(t, 5, f.Buffered())
	got, err := f.Next()
	noErr(t, err)
	equal(t, Frame(fr), got)
	_, err = f.Next()
	isErr(t, err, os.ErrDeadlineExceeded)
	_, err = f.Next()
	isErr(t, err, io.EOF)
}

// isEOF is an error that says it is io.EOF without wrapping it.
type isEOF struct{}

func (isEOF) Error() string        { return "closed" }
func (isEOF) Is(target error) bool { return target == io.EOF }

// A reader's end of stream counts however it is said: io.EOF itself,
// wrapped, or an error whose Is method names it. Any other error is passed
// on as it is.
func TestFramerEndOfStreamForms(t *testing.T) {
	for name, end := range map[string]error{
		"plain":   io.EOF,
		"wrapped": fmt.Errorf("device socket: %w", io.EOF),
		"joined":  errors.Join(errors.New("socket"), io.EOF),
		"Is":      isEOF{},
	} {
		t.Run(name, func(t *testing.T) {
			f := NewFramer(readerFunc(func([]byte) (int, error) { return 0, end }), nil)
			_, err := f.Next()
			equal(t, io.EOF, err)
		})
	}
	other := errors.New("would block")
	f := NewFramer(readerFunc(func([]byte) (int, error) { return 0, other }), nil)
	_, err := f.Next()
	equal(t, other, err)
}

func TestFramerNoProgress(t *testing.T) {
	f := NewFramer(readerFunc(func([]byte) (int, error) { return 0, nil }), nil)
	_, err := f.Next()
	isErr(t, err, io.ErrNoProgress)
}

type readerFunc func([]byte) (int, error)

func (f readerFunc) Read(b []byte) (int, error) { return f(b) }

func TestFramerRejectsSmallBuffer(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("NewFramer accepted a buffer shorter than MaxFrameLen")
		}
	}()
	NewFramer(bytes.NewReader(nil), make([]byte, MaxFrameLen-1))
}

func TestFrameAccessors(t *testing.T) {
	f := Frame(adu(0x1234, 0x56, pdu(3, 0x0102, 0x0003)))
	equal(t, uint16(0x1234), f.TransactionID())
	equal(t, uint16(0), f.ProtocolID())
	equal(t, uint16(6), f.LengthField())
	equal(t, uint8(0x56), f.Unit())
	equal(t, FuncReadHoldingRegisters, f.Function())
	equal(t, []byte{3, 1, 2, 0, 3}, f.PDU())
	f.SetTransactionID(0xBEEF)
	equal(t, uint16(0xBEEF), f.TransactionID())
}

func TestFramerDoesNotAllocate(t *testing.T) {
	stream := bytes.Repeat(adu(1, 1, pdu(3, 0, 10)), 100)
	r := bytes.NewReader(stream)
	f := NewFramer(r, nil)
	allocs := testing.AllocsPerRun(100, func() {
		r.Reset(stream)
		f.Reset(r, nil)
		for {
			if _, err := f.Next(); err != nil {
				if !errors.Is(err, io.EOF) {
					t.Fatal(err)
				}
				return
			}
		}
	})
	equal(t, 0.0, allocs, "allocations")
}

func TestFrameLength(t *testing.T) {
	for _, tc := range []struct {
		b    []byte
		n    int
		kind FrameErrorKind
	}{
		{nil, 0, 0},
		{[]byte{0, 1, 0, 0, 0}, 0, 0},
		{[]byte{0, 1, 0, 0, 0, 6}, 12, 0},
		{[]byte{0, 1, 0, 0, 0, 6, 1, 3}, 12, 0},
		{[]byte{0, 1, 0, 1}, 0, FrameBadProtocolID},
		{[]byte{0, 1, 0, 0, 0, 1}, 0, FrameTooShort},
		{[]byte{0, 1, 0, 0, 0, 255}, 0, FrameTooLong},
		{[]byte{0, 1, 0, 0, 0, 254}, MaxFrameLen, 0},
	} {
		n, kind := FrameLength(tc.b)
		equal(t, tc.n, n, "length of ", tc.b)
		equal(t, tc.kind, kind, "error of ", tc.b)
	}
}

func TestNames(t *testing.T) {
	equal(t, "gateway_target_failed_to_respond", ExGatewayTargetNoResponse.String())
	equal(t, "exception(99)", ExceptionCode(99).String())
	equal(t, "bad_protocol_id", FrameBadProtocolID.String())
}
