package audit

import (
	"encoding/hex"
	"sort"
	"strconv"
	"unicode/utf8"
)

// Syslog severities (RFC 5424).
const (
	sevError   = 3
	sevWarning = 4
	sevNotice  = 5
	sevInfo    = 6
)

func severity(e *Entry) int {
	switch {
	case e.Category == CategoryAudit && (e.Action == ActionFailure || e.Action == ActionStorageFull || e.Action == ActionLost):
		return sevError
	case e.Action == ActionStorageWarning || e.Action == ActionRecovered || e.Result == ResultDenied || e.Result == ResultFailure:
		return sevWarning
	case e.Category == CategoryAudit && (e.Action == ActionCheckpoint || e.Action == ActionRotate):
		return sevInfo
	default:
		return sevNotice
	}
}

// syslogFormatter renders entries as RFC 5424 messages with octet-counted
// framing (RFC 6587 section 3.4.1):
//
//	LEN SP <PRI>1 TIMESTAMP HOSTNAME APP-NAME - MSGID [zonegate@PEN ...][zgdetails@PEN ...] BOM MSG
//
// MSGID is the category. The first SD element holds the record's fields,
// its sequence number and chain hash; the second its details. MSG is a
// one-line summary for people.
type syslogFormatter struct {
	facility int
	host     string
	app      string
	sdID     string
	detID    string
	msg      []byte
	keys     []string
}

func newSyslogFormatter(s *SyslogSettings) *syslogFormatter {
	return &syslogFormatter{
		facility: facilities[s.Facility],
		host:     headerField(s.Hostname, 255),
		app:      headerField(s.AppName, 48),
		sdID:     "zonegate@" + s.EnterpriseID,
		detID:    "zgdetails@" + s.EnterpriseID,
	}
}

// appendFrame appends one framed message for e to dst.
func (f *syslogFormatter) appendFrame(dst []byte, e *Entry) []byte {
	m := f.msg[:0]
	m = append(m, '<')
	m = strconv.AppendInt(m, int64(f.facility*8+severity(e)), 10)
	m = append(m, ">1 "...)
	m = e.Time.UTC().AppendFormat(m, timeLayout)
	m = append(m, ' ')
	m = append(m, f.host...)
	m = append(m, ' ')
	m = append(m, f.app...)
	m = append(m, " - "...)
	m = append(m, headerField(string(e.Category), 32)...)
	m = append(m, " ["...)
	m = append(m, f.sdID...)
	m = appendParam(m, "seq", strconv.FormatUint(e.Seq, 10))
	m = appendParam(m, "boot_id", e.BootID)
	m = appendParam(m, "gateway", e.Gateway)
	m = appendParam(m, "actor", e.Actor)
	m = appendParam(m, "category", string(e.Category))
	m = appendParam(m, "action", string(e.Action))
	m = appendParam(m, "object", e.Object)
	m = appendParam(m, "result", string(e.Result))
	m = appendParam(m, "hash", hex.EncodeToString(e.Hash[:]))
	m = append(m, ']')
	if len(e.Details) > 0 {
		f.keys = f.keys[:0]
		for k := range e.Details {
			f.keys = append(f.keys, k)
		}
		sort.Strings(f.keys)
		m = append(m, '[')
		m = append(m, f.detID...)
		for _, k := range f.keys {
			m = appendParam(m, k, e.Details[k])
		}
		m = append(m, ']')
	}
	m = append(m, " \xef\xbb\xbf"...)
	m = append(m, summary(e)...)
	f.msg = m
	dst = strconv.AppendInt(dst, int64(len(m)), 10)
	dst = append(dst, ' ')
	return append(dst, m...)
}

// summary is the human-readable MSG part.
func summary(e *Entry) string {
	s := string(e.Category) + " " + string(e.Action)
	if e.Object != "" {
		s += " " + e.Object
	}
	if e.Actor != "" {
		s += " by " + e.Actor
	}
	if e.Result != "" {
		s += ": " + string(e.Result)
	}
	return clean(s)
}

// appendParam appends SP name="value" with the escapes of RFC 5424 6.3.3.
func appendParam(m []byte, name, value string) []byte {
	m = append(m, ' ')
	m = append(m, name...)
	m = append(m, '=', '"')
	for i := 0; i < len(value); {
		c := value[i]
		if c == '"' || c == '\\' || c == ']' {
			m = append(m, '\\', c)
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(value[i:])
		if r == utf8.RuneError && size == 1 {
			m = append(m, "\xef\xbf\xbd"...)
		} else if r < 0x20 || r == 0x7f {
			m = append(m, ' ')
		} else {
			m = append(m, value[i:i+size]...)
		}
		i += size
	}
	return append(m, '"')
}

// headerField makes s a valid header field: printable US-ASCII without
// spaces, at most n characters, "-" if empty.
func headerField(s string, n int) string {
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s) && len(b) < n; i++ {
		if c := s[i]; c > 32 && c < 127 {
			b = append(b, c)
		} else {
			b = append(b, '_')
		}
	}
	if len(b) == 0 {
		return "-"
	}
	return string(b)
}
