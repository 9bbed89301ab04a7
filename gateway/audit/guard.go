package audit

import (
	"fmt"
	"maps"
	"sort"
	"strconv"
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
// secret-looking details are redacted, invalid keys dropped, long fields and
// values cut. Nothing is cut silently: the DetailTruncated detail lists
// every shortened field or detail with its original length, and
// DetailDroppedDetails counts dropped details. It returns a copy; the
// caller's map is not modified.
func sanitize(r Record) Record {
	var cuts cutList
	if r.Category == "" {
		r.Category = CategoryInspection
	}
	if r.Action == "" {
		r.Action = "unknown"
	}
	r.Actor = cuts.cut("@actor", r.Actor, maxFieldBytes)
	r.Object = cuts.cut("@object", r.Object, maxFieldBytes)
	r.Action = Action(cuts.cut("@action", string(r.Action), maxFieldBytes))
	r.Category = Category(cuts.cut("@category", string(r.Category), maxFieldBytes))
	r.Result = Result(cuts.cut("@result", string(r.Result), maxFieldBytes))
	dropped := 0
	if len(r.Details) > 0 {
		keys := make([]string, 0, len(r.Details))
		for k := range r.Details {
			keys = append(keys, k)
		}
		sort.Strings(keys) // which details are kept must not depend on map order
		d := make(map[string]string, min(len(r.Details), maxDetails))
		for _, k := range keys {
			v := r.Details[k]
			switch {
			case !validKeySyntax(k) || k == DetailTruncated || k == DetailDroppedDetails || len(d) == maxDetails-2:
				dropped++ // the key cannot be stored, or is ours, or there are too many
			case isSecretKey(k) || looksSecret(v):
				d[k] = redacted
			default:
				d[k] = cuts.cut(k, v, maxDataValueBytes)
			}
		}
		r.Details = d
	}
	if dropped > 0 {
		r.Details[DetailDroppedDetails] = strconv.Itoa(dropped)
	}
	cuts.note(&r)
	return r
}

// cutList remembers what was shortened: name and original length.
type cutList map[string]int

// cut shortens s to n bytes and notes it under name.
func (c *cutList) cut(name, s string, n int) string {
	if len(s) <= n {
		return s
	}
	if *c == nil {
		*c = cutList{}
	}
	if _, ok := (*c)[name]; !ok {
		(*c)[name] = len(s)
	}
	return cutTo(s, n)
}

// note writes the list into r's DetailTruncated detail: "name:length,..."
// sorted by name, where name is a detail key or @actor, @object, ... for
// the record's fields, and length the original length in bytes.
func (c cutList) note(r *Record) {
	if len(c) == 0 {
		return
	}
	names := make([]string, 0, len(c))
	for k := range c {
		names = append(names, k)
	}
	sort.Strings(names)
	var b strings.Builder
	for i, k := range names {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(k + ":" + strconv.Itoa(c[k]))
	}
	if r.Details == nil {
		r.Details = map[string]string{}
	}
	r.Details[DetailTruncated] = b.String()
}

// fitData shortens a sanitized data-plane record whose encoded payload
// (size returns its length) exceeds MaxPayloadBytes: the longest detail
// values are cut to a common length, halved until the record fits, and
// listed in DetailTruncated; everything else is kept. The record's fields
// are at most maxFieldBytes each, so emptying the values always fits.
func fitData(r *Record, size func(*Record) int) {
	if size(r) <= MaxPayloadBytes {
		return
	}
	cuts := cutList{}
	if prev := r.Details[DetailTruncated]; prev != "" {
		for _, item := range strings.Split(prev, ",") {
			if i := strings.LastIndexByte(item, ':'); i > 0 {
				if n, err := strconv.Atoi(item[i+1:]); err == nil {
					cuts[item[:i]] = n
				}
			}
		}
	}
	orig := r.Details
	longest := 0
	for k, v := range orig {
		if k != DetailTruncated && k != DetailDroppedDetails {
			longest = max(longest, len(v))
		}
	}
	for limit := longest / 2; ; limit /= 2 {
		d := make(map[string]string, len(orig))
		c := maps.Clone(cuts)
		for k, v := range orig {
			if k == DetailTruncated || k == DetailDroppedDetails {
				d[k] = v
				continue
			}
			d[k] = c.cut(k, v, limit)
		}
		r.Details = d
		c.note(r)
		if size(r) <= MaxPayloadBytes || limit == 0 {
			return
		}
	}
}

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
