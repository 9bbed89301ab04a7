package audit

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// Limits on record contents. They keep one record well inside a syslog
// message and bound the memory of the write queue.
const (
	// MaxPayloadBytes is the largest encoded record the log writes.
	MaxPayloadBytes = 8 << 10
	maxFieldBytes   = 256
	maxDetailKey    = 32
	maxDetails      = 64
	// maxDataValueBytes cuts detail values of data-plane records.
	maxDataValueBytes = 512
)

// secretKeyWords are substrings that mark a detail key as naming a secret.
var secretKeyWords = []string{"password", "passwd", "passphrase", "secret", "token", "hash", "private", "credential", "psk", "apikey", "api_key", "salt", "cookie", "session_id"}

// secretValuePrefixes are prefixes of stored password hashes and key material.
var secretValuePrefixes = []string{"$argon2", "$2a$", "$2b$", "$2y$", "$1$", "$5$", "$6$", "$y$", "$7$", "$scrypt", "$pbkdf2", "-----BEGIN"}

// redacted replaces the value of a secret detail in data-plane records.
const redacted = "[redacted]"

// validate checks a record before it is written. It refuses secrets
// (ErrSecret) and malformed records (ErrInvalid).
func validate(r *Record) error {
	if r.Category == "" || r.Action == "" {
		return fmt.Errorf("%w: category and action are required (got %q/%q)", ErrInvalid, r.Category, r.Action)
	}
	for name, v := range map[string]string{"category": string(r.Category), "action": string(r.Action), "actor": r.Actor, "object": r.Object, "result": string(r.Result)} {
		if len(v) > maxFieldBytes {
			return fmt.Errorf("%w: %s is %d bytes, at most %d", ErrInvalid, name, len(v), maxFieldBytes)
		}
		if looksSecret(v) {
			return fmt.Errorf("%w: %s looks like a password hash or key material", ErrSecret, name)
		}
	}
	if len(r.Details) > maxDetails {
		return fmt.Errorf("%w: %d details, at most %d", ErrInvalid, len(r.Details), maxDetails)
	}
	for k, v := range r.Details {
		if err := checkDetailKey(k); err != nil {
			return err
		}
		if looksSecret(v) {
			return fmt.Errorf("%w: detail %q looks like a password hash or key material; record that it changed, not the value", ErrSecret, k)
		}
	}
	return nil
}

// sanitize makes a data-plane record writable instead of refusing it:
// secret-looking details are redacted, invalid keys dropped, long fields cut.
// It returns a copy; the caller's map is not modified.
func sanitize(r Record) Record {
	if r.Category == "" {
		r.Category = CategoryInspection
	}
	if r.Action == "" {
		r.Action = "unknown"
	}
	r.Actor = cut(r.Actor)
	r.Object = cut(r.Object)
	r.Action = Action(cut(string(r.Action)))
	r.Category = Category(cut(string(r.Category)))
	r.Result = Result(cut(string(r.Result)))
	if len(r.Details) > 0 {
		d := make(map[string]string, len(r.Details))
		n := 0
		for k, v := range r.Details {
			if n == maxDetails {
				break
			}
			switch {
			case !validKeySyntax(k):
				// dropped: the key cannot be stored
			case isSecretKey(k) || looksSecret(v):
				d[k] = redacted
			default:
				d[k] = cutTo(v, maxDataValueBytes)
			}
			n++
		}
		r.Details = d
	}
	return r
}

func cut(s string) string { return cutTo(s, maxFieldBytes) }

// cutTo shortens s to at most n bytes without splitting a UTF-8 sequence.
func cutTo(s string, n int) string {
	if len(s) <= n {
		return s
	}
	s = s[:n]
	for !utf8.ValidString(s) && len(s) > 0 {
		s = s[:len(s)-1]
	}
	return s
}

func checkDetailKey(k string) error {
	if isSecretKey(k) {
		return fmt.Errorf("%w: detail key %q names a secret; record that it changed, never the value or its hash", ErrSecret, k)
	}
	if !validKeySyntax(k) {
		return fmt.Errorf("%w: detail key %q must be 1-%d characters of [a-z0-9_]", ErrInvalid, k, maxDetailKey)
	}
	return nil
}

func validKeySyntax(k string) bool {
	if k == "" || len(k) > maxDetailKey {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '_' {
			return false
		}
	}
	return true
}

func isSecretKey(k string) bool {
	k = strings.ToLower(k)
	for _, w := range secretKeyWords {
		if strings.Contains(k, w) {
			return true
		}
	}
	return false
}

func looksSecret(v string) bool {
	v = strings.TrimSpace(v)
	for _, p := range secretValuePrefixes {
		if strings.HasPrefix(v, p) {
			return true
		}
	}
	return false
}
