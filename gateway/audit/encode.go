package audit

import (
	"encoding/json"
	"fmt"
	"sort"
	"time"
	"unicode/utf8"
)

// timeLayout is the stored timestamp: UTC with microseconds.
const timeLayout = "2006-01-02T15:04:05.000000Z"

// payload is the JSON body of a record as stored on disk. The sequence
// number lives in the frame header (and in the chain hash), not here.
type payload struct {
	Time     string            `json:"time"`
	BootID   string            `json:"boot_id"`
	Gateway  string            `json:"gateway"`
	Actor    string            `json:"actor"`
	Category Category          `json:"category"`
	Action   Action            `json:"action"`
	Object   string            `json:"object"`
	Result   Result            `json:"result"`
	Details  map[string]string `json:"details,omitempty"`
}

// appendPayload encodes r as JSON with a fixed field order and sorted
// detail keys, appending to dst. keys is scratch space for sorting.
func appendPayload(dst []byte, r *Record, bootID, gateway string, keys []string) ([]byte, []string) {
	dst = append(dst, `{"time":"`...)
	dst = r.Time.UTC().AppendFormat(dst, timeLayout)
	dst = append(dst, `","boot_id":`...)
	dst = appendJSONString(dst, bootID)
	dst = append(dst, `,"gateway":`...)
	dst = appendJSONString(dst, gateway)
	dst = append(dst, `,"actor":`...)
	dst = appendJSONString(dst, r.Actor)
	dst = append(dst, `,"category":`...)
	dst = appendJSONString(dst, string(r.Category))
	dst = append(dst, `,"action":`...)
	dst = appendJSONString(dst, string(r.Action))
	dst = append(dst, `,"object":`...)
	dst = appendJSONString(dst, r.Object)
	dst = append(dst, `,"result":`...)
	dst = appendJSONString(dst, string(r.Result))
	if len(r.Details) > 0 {
		keys = keys[:0]
		for k := range r.Details {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		dst = append(dst, `,"details":{`...)
		for i, k := range keys {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendJSONString(dst, k)
			dst = append(dst, ':')
			dst = appendJSONString(dst, r.Details[k])
		}
		dst = append(dst, '}')
	}
	dst = append(dst, '}')
	return dst, keys
}

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as a JSON string. Invalid UTF-8 becomes U+FFFD,
// control characters and the HTML-sensitive characters are escaped.
func appendJSONString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				dst = append(dst, '\\', c)
			case c == '\n':
				dst = append(dst, '\\', 'n')
			case c == '\r':
				dst = append(dst, '\\', 'r')
			case c == '\t':
				dst = append(dst, '\\', 't')
			case c < 0x20 || c == 0x7f:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			default:
				dst = append(dst, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, `\ufffd`...)
		} else if r == '\u2028' || r == '\u2029' {
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
		} else {
			dst = append(dst, s[i:i+size]...)
		}
		i += size
	}
	return append(dst, '"')
}

// decodePayload parses a stored record body.
func decodePayload(b []byte, seq uint64, hash [32]byte) (Entry, error) {
	var p payload
	if err := json.Unmarshal(b, &p); err != nil {
		return Entry{}, fmt.Errorf("record %d: body is not valid JSON: %v", seq, err)
	}
	t, err := time.Parse(timeLayout, p.Time)
	if err != nil {
		return Entry{}, fmt.Errorf("record %d: bad time %q", seq, p.Time)
	}
	return Entry{
		Seq:     seq,
		BootID:  p.BootID,
		Gateway: p.Gateway,
		Record: Record{
			Time: t, Actor: p.Actor, Category: p.Category, Action: p.Action,
			Object: p.Object, Result: p.Result, Details: p.Details,
		},
		Hash: hash,
	}, nil
}
