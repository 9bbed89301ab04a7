package audit

import (
	"encoding/binary"
	"errors"
	"hash/crc32"
)

// Frame layout (all integers big-endian):
//
//	offset  size  field
//	0       2     magic "ZG"
//	2       1     format version (1)
//	3       1     kind: 1 record, 2 segment header, 3 checkpoint
//	4       4     payload length L
//	8       8     sequence number
//	16      4     CRC-32C over bytes [0,16) and [20, 20+L+64)
//	20      L     payload (JSON)
//	20+L    32    chain hash
//	52+L    32    HMAC-SHA-256(key, chain hash)
const (
	frameHeaderSize = 20
	frameTrailer    = 64
	frameOverhead   = frameHeaderSize + frameTrailer
	frameVersion    = 1
	// maxFramePayload is the largest payload a reader accepts; writers stop
	// at MaxPayloadBytes. The margin leaves room for later versions.
	maxFramePayload = 64 << 10
	maxFrameSize    = frameOverhead + maxFramePayload
)

// Frame kinds.
const (
	kindRecord     byte = 1
	kindHeader     byte = 2
	kindCheckpoint byte = 3
)

var frameMagic = [2]byte{'Z', 'G'}

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// frame is one decoded frame. Payload aliases the reader's buffer.
type frame struct {
	kind    byte
	seq     uint64
	payload []byte
	hash    [32]byte
	mac     [32]byte
	off     int64 // offset in the segment file
	size    int64 // total bytes on disk
}

// appendFrame encodes a frame to dst.
func appendFrame(dst []byte, kind byte, seq uint64, payload []byte, hash, mac *[32]byte) []byte {
	start := len(dst)
	dst = append(dst, frameMagic[0], frameMagic[1], frameVersion, kind)
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(payload)))
	dst = binary.BigEndian.AppendUint64(dst, seq)
	dst = append(dst, 0, 0, 0, 0)
	dst = append(dst, payload...)
	dst = append(dst, hash[:]...)
	dst = append(dst, mac[:]...)
	f := dst[start:]
	binary.BigEndian.PutUint32(f[16:20], frameCRC(f))
	return dst
}

func frameCRC(f []byte) uint32 {
	c := crc32.Update(0, crcTable, f[:16])
	return crc32.Update(c, crcTable, f[frameHeaderSize:])
}

var (
	errShortFrame = errors.New("incomplete frame")
	errBadFrame   = errors.New("bad frame")
)

// frameLen returns the total size of the frame starting at b (which must
// hold at least the header), or errBadFrame if the header is implausible.
func frameLen(b []byte) (int, error) {
	if b[0] != frameMagic[0] || b[1] != frameMagic[1] || b[2] != frameVersion || b[3] < kindRecord || b[3] > kindCheckpoint {
		return 0, errBadFrame
	}
	l := binary.BigEndian.Uint32(b[4:8])
	if l == 0 || l > maxFramePayload {
		return 0, errBadFrame
	}
	return frameOverhead + int(l), nil
}

// parseFrame decodes the frame at the start of b. It returns errShortFrame
// if b ends before the frame does, errBadFrame if the frame is invalid.
func parseFrame(b []byte) (frame, error) {
	if len(b) < frameHeaderSize {
		return frame{}, errShortFrame
	}
	n, err := frameLen(b)
	if err != nil {
		return frame{}, err
	}
	if len(b) < n {
		return frame{}, errShortFrame
	}
	b = b[:n]
	if binary.BigEndian.Uint32(b[16:20]) != frameCRC(b) {
		return frame{}, errBadFrame
	}
	l := n - frameOverhead
	f := frame{kind: b[3], seq: binary.BigEndian.Uint64(b[8:16]), payload: b[frameHeaderSize : frameHeaderSize+l], size: int64(n)}
	copy(f.hash[:], b[frameHeaderSize+l:])
	copy(f.mac[:], b[frameHeaderSize+l+32:])
	return f, nil
}
