package audit

import (
	"context"
	"fmt"
	"strings"
	"testing"
)

// memLogger keeps the messages it hears.
type memLogger struct{ lines []string }

func (m *memLogger) Infow(msg string, kv ...any)  { m.add(msg, kv) }
func (m *memLogger) Warnw(msg string, kv ...any)  { m.add(msg, kv) }
func (m *memLogger) Errorw(msg string, kv ...any) { m.add(msg, kv) }
func (m *memLogger) add(msg string, kv []any) {
	m.lines = append(m.lines, fmt.Sprint(append([]any{msg}, kv...)...))
}

// TestRecorder: without a log every change is refused and best-effort
// records are reported lost; with one, records are written; a full log
// refuses changes early; a closed one refuses the record.
func TestRecorder(t *testing.T) {
	ctx := context.Background()
	logger := &memLogger{}
	r := NewRecorder(logger)
	if err := r.Record(ctx, configRecord(1)); err != ErrUnavailable {
		t.Errorf("Record without a log: %v, want ErrUnavailable", err)
	}
	if err := r.Writable(); err != ErrUnavailable {
		t.Errorf("Writable without a log: %v, want ErrUnavailable", err)
	}
	r.RecordBestEffort(configRecord(2))
	if len(logger.lines) != 1 || !strings.Contains(logger.lines[0], "audit record lost") || !strings.Contains(logger.lines[0], "settings-changed") {
		t.Errorf("a best-effort record without a log: %q, want it reported lost with its action", logger.lines)
	}

	o := testOptions(t)
	o.MaxBytes = 200 << 10
	l := openLog(t, o)
	r.SetLog(l)
	if r.Log() != l {
		t.Fatal("Log does not return the log set")
	}
	if err := r.Writable(); err != nil {
		t.Fatalf("Writable: %v", err)
	}
	if err := r.Record(ctx, configRecord(3)); err != nil {
		t.Fatalf("Record: %v", err)
	}
	r.RecordBestEffort(configRecord(4))
	if st := l.Stats(); st.Seq < 3 || st.LostBestEffort != 0 {
		t.Errorf("after two records: %+v", st)
	}
	for i := 0; ; i++ {
		if _, err := l.Append(ctx, ConfigChange("filler", ActionSettingsChanged, "settings", ResultSuccess, "", "", strings.Repeat("x", 400))); err != nil {
			break
		}
		if i > 10000 {
			t.Fatal("the log never filled up")
		}
	}
	if err := r.Writable(); err == nil || !strings.Contains(err.Error(), "the audit log is full") {
		t.Errorf("Writable with a full log: %v", err)
	}
	mustClose(t, l)
	if err := r.Record(ctx, configRecord(5)); err == nil || !strings.Contains(err.Error(), "so the change is refused") {
		t.Errorf("Record on a closed log: %v, want the change refused", err)
	}
	r.SetLog(nil)
	if r.Log() != nil {
		t.Error("SetLog(nil) leaves a log")
	}
	if NewRecorder(nil).Writable() != ErrUnavailable {
		t.Error("a Recorder without a Logger")
	}
}
