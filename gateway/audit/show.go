package audit

import (
	"encoding/hex"
	"io"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
)

// MarshalJSON renders an entry as one JSON object with the sequence number
// and the chain hash; this is the line format of `zonegate audit show --json`.
func (e Entry) MarshalJSON() ([]byte, error) {
	b := []byte(`{"seq":`)
	b = strconv.AppendUint(b, e.Seq, 10)
	b = append(b, ',')
	p, _ := appendPayload(nil, &e.Record, e.BootID, e.Gateway, nil)
	b = append(b, p[1:len(p)-1]...)
	b = append(b, `,"hash":"`...)
	b = hex.AppendEncode(b, e.Hash[:])
	return append(b, `"}`...), nil
}

// WriteJSONLine writes e as one line of JSON.
func WriteJSONLine(w io.Writer, e Entry) error {
	b, _ := e.MarshalJSON()
	_, err := w.Write(append(b, '\n'))
	return err
}

// TableWriter prints entries as an aligned table. Columns are aligned in
// blocks of rows so that memory stays bounded for long logs.
type TableWriter struct {
	tw   *tabwriter.Writer
	rows int
}

const tableBlock = 200

// NewTableWriter starts a table on w and prints its heading.
func NewTableWriter(w io.Writer) *TableWriter {
	t := &TableWriter{tw: tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)}
	t.heading()
	return t
}

func (t *TableWriter) heading() {
	io.WriteString(t.tw, "SEQ\tTIME (UTC)\tCATEGORY\tACTION\tACTOR\tOBJECT\tRESULT\tDETAILS\n")
}

// Write adds one row.
func (t *TableWriter) Write(e Entry) error {
	row := []string{
		strconv.FormatUint(e.Seq, 10), e.Time.UTC().Format(timeLayout), string(e.Category), string(e.Action),
		clean(e.Actor), clean(e.Object), string(e.Result), detailsText(e.Details),
	}
	if _, err := io.WriteString(t.tw, strings.Join(row, "\t")+"\n"); err != nil {
		return err
	}
	t.rows++
	if t.rows%tableBlock == 0 {
		return t.tw.Flush()
	}
	return nil
}

// Flush ends the table.
func (t *TableWriter) Flush() error { return t.tw.Flush() }

func detailsText(d map[string]string) string {
	keys := make([]string, 0, len(d))
	for k := range d {
		if k == "signature" {
			continue // long and meaningless to read; Verify checks it
		}
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(' ')
		}
		v := clean(d[k])
		if v == "" || strings.ContainsAny(v, " \"") {
			v = strconv.Quote(v)
		}
		b.WriteString(k + "=" + v)
	}
	return b.String()
}

// clean keeps control characters and tabs out of the table.
func clean(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return '?'
		}
		return r
	}, s)
}
