package audit

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"hash"
)

// chainDomain separates audit chain hashes from any other use of SHA-256.
const chainDomain = "zonegate-audit-chain-v1\x00"

// chainer computes chain hashes and HMACs. It is not safe for concurrent use.
//
//	hash(n) = SHA-256(chainDomain || hash(n-1) || version || kind || seq || payload)
//	mac(n)  = HMAC-SHA-256(hmacKey, hash(n))
//
// hash(0) is 32 zero bytes.
type chainer struct {
	h   hash.Hash
	mac hash.Hash // nil when no HMAC key is known
	buf [10]byte
}

func newChainer(hmacKey []byte) *chainer {
	c := &chainer{h: sha256.New()}
	if len(hmacKey) > 0 {
		c.mac = hmac.New(sha256.New, hmacKey)
	}
	return c
}

func (c *chainer) next(prev *[32]byte, kind byte, seq uint64, payload []byte) (out [32]byte) {
	c.h.Reset()
	c.h.Write([]byte(chainDomain))
	c.h.Write(prev[:])
	c.buf[0] = frameVersion
	c.buf[1] = kind
	c.h.Write(c.buf[:2])
	binary.BigEndian.PutUint64(c.buf[2:10], seq)
	c.h.Write(c.buf[2:10])
	c.h.Write(payload)
	c.h.Sum(out[:0])
	return out
}

func (c *chainer) sign(h *[32]byte) (out [32]byte) {
	if c.mac == nil {
		return out
	}
	c.mac.Reset()
	c.mac.Write(h[:])
	c.mac.Sum(out[:0])
	return out
}

// checkMAC reports whether mac authenticates h; true when no key is known.
func (c *chainer) checkMAC(h, mac *[32]byte) bool {
	if c.mac == nil {
		return true
	}
	want := c.sign(h)
	return hmac.Equal(want[:], mac[:])
}
