package audit

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"
)

func TestAppendReadVerify(t *testing.T) {
	o := testOptions(t)
	l := openLog(t, o)
	seqs := appendN(t, l, 10)
	for i := 0; i < 20; i++ {
		if !l.Enqueue(dataRecord(i)) {
			t.Fatal("Enqueue refused with an empty queue")
		}
	}
	if err := l.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if l.DurableSeq() < seqs[9]+20 {
		t.Fatalf("durable seq %d, want at least %d", l.DurableSeq(), seqs[9]+20)
	}
	mustClose(t, l)
	for i := 1; i < len(seqs); i++ {
		if seqs[i] != seqs[i-1]+1 {
			t.Fatalf("sequence numbers not consecutive: %v", seqs)
		}
	}
	rep := requireIntact(t, o.Dir)
	if !rep.HMACChecked || rep.Checkpoints == 0 || rep.SignedThrough != rep.LastSeq-1 {
		t.Fatalf("report: %+v", rep)
	}
	all := readAll(t, o.Dir, Filter{})
	if got := len(readAll(t, o.Dir, Filter{Category: CategoryConfig})); got != 10 {
		t.Fatalf("config records: %d", got)
	}
	if got := len(readAll(t, o.Dir, Filter{Category: CategoryInspection})); got != 20 {
		t.Fatalf("modbus records: %d", got)
	}
	e := all[1]
	if e.Seq != seqs[0] || e.Gateway != "line3-gw" || e.BootID != o.BootID || e.Actor != "admin" ||
		e.Details[DetailDigestBefore] == "" || e.Details[DetailDiff] == "" {
		t.Fatalf("first config record: %+v", e)
	}
	if e.Time.Nanosecond()%1000 != 0 || e.Time.Location() != time.UTC {
		t.Fatalf("time not UTC microseconds: %v", e.Time)
	}
	// A clean restart writes no recovered record.
	l = openLog(t, o)
	mustClose(t, l)
	if n := countAction(readAll(t, o.Dir, Filter{}), ActionRecovered); n != 0 {
		t.Fatalf("%d recovered records after a clean close", n)
	}
	requireIntact(t, o.Dir)
}

func TestSecretsRefused(t *testing.T) {
	o := testOptions(t)
	l := openLog(t, o)
	defer mustClose(t, l)
	bad := []Record{
		{Category: CategoryAccount, Action: ActionPasswordChange, Object: "user:bob", Details: map[string]string{"new_password": "hunter2"}},
		{Category: CategoryAccount, Action: ActionPasswordChange, Object: "user:bob", Details: map[string]string{"Password_Hash": "x"}},
		{Category: CategoryConfig, Action: ActionSettingsChanged, Details: map[string]string{"api_token": "abc"}},
		{Category: CategoryAccount, Action: ActionPasswordChange, Details: map[string]string{"value": "$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA"}},
		{Category: CategoryConfig, Action: ActionSettingsChanged, Details: map[string]string{"tls_key": "-----BEGIN PRIVATE KEY-----"}},
		{Category: CategoryAccount, Action: ActionPasswordChange, Object: "$6$salt$hash"},
	}
	for i, r := range bad {
		if _, err := l.Append(context.Background(), r); !errors.Is(err, ErrSecret) {
			t.Errorf("record %d: got %v, want ErrSecret", i, err)
		}
	}
	if _, err := l.Append(context.Background(), Record{Action: ActionLockout}); !errors.Is(err, ErrInvalid) {
		t.Errorf("missing category: got %v, want ErrInvalid", err)
	}
	if _, err := l.Append(context.Background(), Record{Category: CategoryConfig, Action: "x", Details: map[string]string{"Bad Key": "v"}}); !errors.Is(err, ErrInvalid) {
		t.Errorf("bad detail key: got %v, want ErrInvalid", err)
	}
	big := configRecord(1)
	big.Details[DetailDiff] = string(make([]byte, MaxPayloadBytes))
	if _, err := l.Append(context.Background(), big); !errors.Is(err, ErrInvalid) {
		t.Errorf("oversized record: got %v, want ErrInvalid", err)
	}
	// Data-plane records are redacted, not refused.
	l.Enqueue(Record{Category: CategoryInspection, Action: ActionRequestDenied, Details: map[string]string{"secret": "s3cr3t", "unit": "1"}})
	if err := l.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	es := readAll(t, o.Dir, Filter{Category: CategoryInspection})
	if len(es) != 1 || es[0].Details["secret"] != redacted || es[0].Details["unit"] != "1" {
		t.Fatalf("data-plane secret not redacted: %+v", es)
	}
	// Password changes are recorded without the password.
	if _, err := l.Append(context.Background(), AccountEvent("admin", ActionPasswordChange, "bob", ResultSuccess, nil)); err != nil {
		t.Fatal(err)
	}
}

func TestGroupCommitConcurrent(t *testing.T) {
	o := testOptions(t)
	o.SegmentBytes = 64 << 10
	o.CheckpointEvery = 100
	l := openLog(t, o)
	var wg sync.WaitGroup
	seen := make([]map[uint64]bool, 8)
	for g := 0; g < 8; g++ {
		seen[g] = map[uint64]bool{}
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				if g%2 == 0 {
					seq, err := l.Append(context.Background(), configRecord(i))
					if err != nil {
						t.Error(err)
						return
					}
					seen[g][seq] = true
				} else {
					l.Enqueue(dataRecord(i))
				}
			}
		}(g)
	}
	wg.Wait()
	st := l.Stats()
	mustClose(t, l)
	rep := requireIntact(t, o.Dir)
	if rep.Segments < 2 {
		t.Fatalf("expected rotation into several segments, got %d", rep.Segments)
	}
	es := readAll(t, o.Dir, Filter{})
	bySeq := map[uint64]Entry{}
	for _, e := range es {
		bySeq[e.Seq] = e
	}
	for g := 0; g < 8; g += 2 {
		for seq := range seen[g] {
			if bySeq[seq].Category != CategoryConfig {
				t.Fatalf("acknowledged seq %d not a config record: %+v", seq, bySeq[seq])
			}
		}
	}
	modbus := len(readAll(t, o.Dir, Filter{Category: CategoryInspection}))
	if uint64(modbus)+st.Lost != 800 {
		t.Fatalf("modbus records %d + lost %d != 800", modbus, st.Lost)
	}
	if countAction(es, ActionRotate) != rep.Segments {
		t.Fatalf("each segment must start with a rotate header")
	}
}

func TestDataPlaneCommitDelay(t *testing.T) {
	o := testOptions(t)
	o.CommitDelay = 20 * time.Millisecond
	l := openLog(t, o)
	defer mustClose(t, l)
	before := l.DurableSeq()
	l.Enqueue(dataRecord(1))
	waitFor(t, "group commit", func() bool { return l.DurableSeq() > before })
}

func TestQueueFullCountsLost(t *testing.T) {
	o := testOptions(t)
	o.QueueSize = 4
	o.CommitDelay = 80 * time.Millisecond
	l := openLog(t, o)
	accepted := 0
	for i := 0; i < 1000; i++ {
		if l.Enqueue(dataRecord(i)) {
			accepted++
		}
	}
	lost := l.Stats().Lost
	if lost == 0 || uint64(accepted)+lost != 1000 {
		t.Fatalf("accepted %d lost %d", accepted, lost)
	}
	mustClose(t, l)
	es := readAll(t, o.Dir, Filter{Category: CategoryAudit, Action: ActionLost})
	var total uint64
	for _, e := range es {
		n, _ := strconv.ParseUint(e.Details[DetailCount], 10, 64)
		total += n
	}
	if total != lost {
		t.Fatalf("lost records say %d, stats say %d", total, lost)
	}
	requireIntact(t, o.Dir)
}

func TestCheckpointIntervalAndFile(t *testing.T) {
	o := testOptions(t)
	o.CheckpointInterval = 200 * time.Millisecond
	l := openLog(t, o)
	appendN(t, l, 3)
	waitFor(t, "time-based checkpoint", func() bool { return l.Stats().Checkpoint >= 4 })
	mustClose(t, l)
	cp, err := readStatement(filepath.Join(o.Dir, checkpointFile))
	if err != nil || cp == nil {
		t.Fatalf("checkpoint.json: %v", err)
	}
	requireIntact(t, o.Dir)
}

func TestOpenLockedAndKeyPermissions(t *testing.T) {
	o := testOptions(t)
	l := openLog(t, o)
	defer mustClose(t, l)
	if _, err := Open(o); !errors.Is(err, ErrLocked) {
		t.Fatalf("second Open: %v, want ErrLocked", err)
	}
	for _, name := range []string{hmacKeyFile, signingKeyFile} {
		st, err := os.Stat(filepath.Join(DefaultKeyDir(o.Dir), name))
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != 0o600 {
			t.Fatalf("%s has mode %v, want 0600", name, st.Mode().Perm())
		}
	}
}

func TestMissingKeyRefused(t *testing.T) {
	o := testOptions(t)
	mustClose(t, openLog(t, o))
	os.Remove(filepath.Join(DefaultKeyDir(o.Dir), hmacKeyFile))
	if _, err := Open(o); !errors.Is(err, ErrKeyMissing) {
		t.Fatalf("Open without the HMAC key: %v, want ErrKeyMissing", err)
	}
}

func TestClosedLog(t *testing.T) {
	o := testOptions(t)
	l := openLog(t, o)
	mustClose(t, l)
	if _, err := l.Append(context.Background(), configRecord(1)); !errors.Is(err, ErrClosed) {
		t.Fatalf("Append after Close: %v", err)
	}
	if l.Enqueue(dataRecord(1)) {
		t.Fatal("Enqueue after Close accepted")
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
}
