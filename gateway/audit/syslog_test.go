package audit

import (
	"context"
	"math/rand"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSyslogFormat(t *testing.T) {
	s, err := SyslogSettings{Address: "127.0.0.1:6514"}.withDefaults("/tmp", "line3-gw")
	if err != nil {
		t.Fatal(err)
	}
	f := newSyslogFormatter(&s)
	e := Entry{Seq: 42, BootID: "b-1", Gateway: "line3-gw", Record: Record{
		Time: time.Date(2025, 11, 26, 0, 33, 12, 123456789, time.UTC), Actor: "admin", Category: CategoryConfig,
		Action: ActionSettingsChanged, Object: "settings", Result: ResultSuccess,
		Details: map[string]string{"diff": `a "quoted" ] \ value`, "digest_after": "sha256:ab"},
	}}
	got := string(f.appendFrame(nil, &e))
	want := `<109>1 2025-11-26T00:33:12.123456Z line3-gw zonegate - config [zonegate@32473 seq="42" boot_id="b-1" gateway="line3-gw" actor="admin" category="config" action="settings-changed" object="settings" result="success" hash="` +
		strings.Repeat("0", 64) + `"][zgdetails@32473 diff="a \"quoted\" \] \\ value" digest_after="sha256:ab"] ` + "\xef\xbb\xbf" + `config settings-changed settings by admin: success`
	n := strings.IndexByte(got, ' ')
	if got[n+1:] != want {
		t.Fatalf("message:\n got %s\nwant %s", got[n+1:], want)
	}
	if got[:n] != itoa(len(want)) {
		t.Fatalf("octet count %s, want %d", got[:n], len(want))
	}
}

func itoa(n int) string { return strings.TrimSpace(strings.Repeat(" ", 0) + fmtInt(n)) }

func fmtInt(n int) string {
	if n == 0 {
		return "0"
	}
	var b []byte
	for ; n > 0; n /= 10 {
		b = append([]byte{byte('0' + n%10)}, b...)
	}
	return string(b)
}

func TestSyslogExportTCPOutage(t *testing.T) { testSyslogOutage(t, false, false) }

func TestSyslogExportTLSOutage(t *testing.T) { testSyslogOutage(t, true, false) }

func TestSyslogExportTCPStopAnytime(t *testing.T) { testSyslogOutage(t, false, true) }

func TestSyslogExportTLSStopAnytime(t *testing.T) { testSyslogOutage(t, true, true) }

// testSyslogOutage streams records to a real rsyslogd and stops and
// restarts the collector twice while records keep coming. With anytime
// false, the collector is stopped while the exporter has no unconfirmed
// batch, and every record must arrive exactly once. With anytime true, it
// is stopped at a random moment of the stream: no record may be missing,
// and a batch that was waiting for confirmation may arrive twice.
func testSyslogOutage(t *testing.T, useTLS, anytime bool) {
	r := newRsyslogd(t, useTLS)
	r.start(t)

	o := testOptions(t)
	o.SegmentBytes = 64 << 10
	o.CheckpointEvery = 200
	l := openLog(t, o)
	defer l.Close()
	s := SyslogSettings{Address: r.addr(), Transport: "tcp", MinBackoff: 50 * time.Millisecond, MaxBackoff: 400 * time.Millisecond}
	if useTLS {
		s.Transport, s.CAFile, s.ServerName = "tls", filepath.Join(r.dir, "ca.pem"), "localhost"
	}
	exp, err := NewExporter(l, s, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); exp.Run(ctx) }()
	stopProducing := make(chan struct{})
	var paused sync.Mutex // held while the producer must pause
	go func() {           // a steady mix of durable and data-plane records
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stopProducing:
				return
			default:
			}
			paused.Lock()
			if i%4 == 0 {
				l.Append(context.Background(), configRecord(i))
			} else {
				l.Enqueue(dataRecord(i))
			}
			paused.Unlock()
			time.Sleep(2 * time.Millisecond)
		}
	}()
	rng := rand.New(rand.NewSource(time.Now().UnixNano()))
	for outage := 1; outage <= 2; outage++ {
		target := exp.Stats().Cursor + 600
		waitFor(t, "records to be delivered", func() bool { return exp.Stats().Cursor >= target })
		if anytime {
			time.Sleep(time.Duration(rng.Intn(400)) * time.Millisecond)
			r.stop(t)
		} else {
			paused.Lock() // let the exporter catch up, then stop the collector
			l.Flush(context.Background())
			last := l.DurableSeq()
			waitFor(t, "the exporter to catch up", func() bool { return exp.Stats().Cursor >= last })
			r.stop(t)
			paused.Unlock()
		}
		time.Sleep(700 * time.Millisecond) // records pile up in the log meanwhile
		r.start(t)
	}
	target := exp.Stats().Cursor + 300
	waitFor(t, "delivery after the outages", func() bool { return exp.Stats().Cursor >= target })
	close(stopProducing)
	if err := l.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	last := l.DurableSeq()
	waitFor(t, "the export to catch up", func() bool { return exp.Stats().Cursor >= last })
	cancel()
	wg.Wait()
	r.stop(t)

	st := exp.Stats()
	t.Logf("%d records, %d connects, %d sent again after a connection failure", last, st.Connects, st.Resent)
	if st.Connects < 3 {
		t.Fatalf("only %d connections: the outages were not noticed", st.Connects)
	}
	dups := checkDelivery(t, r, last, !anytime)
	if anytime && dups > 0 {
		t.Logf("%d records arrived twice (a batch awaiting confirmation when the collector stopped)", dups)
	}
	c, err := readCursor(exp.s.CursorFile)
	if err != nil || c.Seq != last {
		t.Fatalf("cursor %d (%v), want %d", c.Seq, err, last)
	}

	// A new exporter (as after a restart of the daemon) resumes from the
	// persisted cursor: nothing is sent twice.
	r.start(t)
	appendN(t, l, 50)
	exp2, err := NewExporter(l, s, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx2, cancel2 := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { exp2.Run(ctx2); close(done) }()
	first := last + 1
	last = l.DurableSeq()
	waitFor(t, "the second exporter", func() bool { return exp2.Stats().Cursor >= last })
	cancel2()
	<-done
	r.stop(t)
	got := r.received(t)
	for seq := first; seq <= last; seq++ {
		if got[seq] != 1 {
			t.Fatalf("after resuming from the cursor, seq %d arrived %d times", seq, got[seq])
		}
	}

	// The collector's file is a witness of the log: its checkpoints (and
	// the export cursor in the directory) agree with the log.
	mustClose(t, l)
	w, err := LoadWitness(r.out)
	require.NoError(t, err)
	rep := verify(t, o.Dir, VerifyOptions{Witness: w})
	require.True(t, rep.Intact(), problems(rep))
	assert.Positive(t, rep.WitnessSeq)
}

// checkDelivery requires that the collector holds every record 1..last,
// and exactly once if exact; it returns the number of duplicates.
func checkDelivery(t *testing.T, r *rsyslogd, last uint64, exact bool) int {
	t.Helper()
	got := r.received(t)
	var missing, dup []uint64
	for seq := uint64(1); seq <= last; seq++ {
		switch got[seq] {
		case 1:
		case 0:
			missing = append(missing, seq)
		default:
			dup = append(dup, seq)
		}
	}
	if len(missing) > 0 || (exact && len(dup) > 0) {
		t.Fatalf("delivery: %d missing (first %v), %d duplicated (first %v) of %d records",
			len(missing), head(missing), len(dup), head(dup), last)
	}
	return len(dup)
}

func head(s []uint64) []uint64 {
	if len(s) > 10 {
		return s[:10]
	}
	return s
}
