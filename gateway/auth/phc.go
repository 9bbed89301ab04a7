package auth

import (
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"
)

// phcHash is a decoded argon2id PHC string:
//
//	$argon2id$v=19$m=<KiB>,t=<passes>,p=<lanes>$<salt>$<hash>
//
// salt and hash in unpadded standard base64. SaltLen and KeyLen of params
// are the lengths of salt and key.
type phcHash struct {
	params Params
	salt   []byte
	key    []byte
}

var b64 = base64.RawStdEncoding.Strict()

// encode returns the PHC string.
func (h phcHash) encode() string {
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, h.params.Memory, h.params.Time, h.params.Threads,
		b64.EncodeToString(h.salt), b64.EncodeToString(h.key))
}

// decodePHC parses an argon2id PHC string strictly: only the canonical
// encoding that encode produces is accepted, with parameters inside the
// package's bounds.
func decodePHC(s string) (phcHash, error) {
	var h phcHash
	bad := func(format string, a ...any) (phcHash, error) {
		return phcHash{}, fmt.Errorf("%w: %s", ErrInvalidHash, fmt.Sprintf(format, a...))
	}
	if len(s) > 512 {
		return bad("%d bytes long", len(s))
	}
	// base64 decoding skips newlines: allow only the characters of the
	// canonical form.
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("$=,+/", c) >= 0) {
			return bad("unexpected character at offset %d", i)
		}
	}
	parts := strings.Split(s, "$")
	if len(parts) != 6 || parts[0] != "" {
		return bad("want $argon2id$v=19$m=..,t=..,p=..$salt$hash")
	}
	if parts[1] != "argon2id" {
		return bad("algorithm %q, want argon2id", parts[1])
	}
	if parts[2] != "v="+strconv.Itoa(argon2.Version) {
		return bad("version %q, want v=%d", parts[2], argon2.Version)
	}
	kv := strings.Split(parts[3], ",")
	if len(kv) != 3 {
		return bad("parameters %q, want m=..,t=..,p=..", parts[3])
	}
	var vals [3]uint64
	for i, name := range []string{"m", "t", "p"} {
		v, ok := strings.CutPrefix(kv[i], name+"=")
		if !ok {
			return bad("parameter %d is %q, want %s=<number>", i+1, kv[i], name)
		}
		n, err := strconv.ParseUint(v, 10, 32)
		if err != nil || strconv.FormatUint(n, 10) != v {
			return bad("parameter %s=%q is not a canonical number", name, v)
		}
		vals[i] = n
	}
	if vals[2] > 255 {
		return bad("parallelism p=%d", vals[2])
	}
	h.params = Params{Memory: uint32(vals[0]), Time: uint32(vals[1]), Threads: uint8(vals[2])}
	if err := h.params.validateCost(); err != nil {
		return bad("%v", err)
	}
	var err error
	if h.salt, err = b64.DecodeString(parts[4]); err != nil {
		return bad("salt is not unpadded base64")
	}
	if h.key, err = b64.DecodeString(parts[5]); err != nil {
		return bad("hash is not unpadded base64")
	}
	if len(h.salt) < minSaltLen || len(h.salt) > maxSaltLen {
		return bad("salt of %d bytes, want %d to %d", len(h.salt), minSaltLen, maxSaltLen)
	}
	if len(h.key) < minKeyLen || len(h.key) > maxKeyLen {
		return bad("hash of %d bytes, want %d to %d", len(h.key), minKeyLen, maxKeyLen)
	}
	h.params.SaltLen = uint32(len(h.salt))
	h.params.KeyLen = uint32(len(h.key))
	return h, nil
}
