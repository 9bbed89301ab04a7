package audit

import (
	"context"
	"os"
	"sync"
	"testing"
)

func TestMain(m *testing.M) {
	if dir := os.Getenv(crashChildEnv); dir != "" {
		crashChild(dir) // the child process of TestCrashSafety; never returns
	}
	code := m.Run()
	if bigLogDir != "" {
		os.RemoveAll(bigLogDir)
	}
	os.Exit(code)
}

func reportRate(b *testing.B, records int) {
	b.ReportMetric(float64(records)/b.Elapsed().Seconds(), "records/s")
}

// BenchmarkAppendFsync: one caller, every record written and fsynced before
// Append returns (the path of account and configuration changes).
func BenchmarkAppendFsync(b *testing.B) {
	o := testOptions(b)
	l := openLog(b, o)
	defer l.Close()
	rec := configRecord(1)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := l.Append(context.Background(), rec); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	reportRate(b, b.N)
}

// BenchmarkAppendParallel: many concurrent durable callers share fsyncs.
func BenchmarkAppendParallel(b *testing.B) {
	o := testOptions(b)
	l := openLog(b, o)
	defer l.Close()
	b.SetParallelism(16)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		rec := configRecord(1)
		for pb.Next() {
			if _, err := l.Append(context.Background(), rec); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	reportRate(b, b.N)
}

// BenchmarkEnqueueGroupCommit: data-plane records, group-committed; the
// time includes the final flush to disk. The queue blocks instead of
// dropping so that every record is counted.
func BenchmarkEnqueueGroupCommit(b *testing.B) {
	o := testOptions(b)
	o.blockingEnqueue = true
	l := openLog(b, o)
	defer l.Close()
	rec := dataRecord(1)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r := rec
		r.Details = map[string]string{DetailSource: "198.18.0.10:50122", DetailUnit: "1", DetailFunction: "16", DetailValues: "1,7"}
		l.Enqueue(r)
	}
	if err := l.Flush(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	reportRate(b, b.N)
}

var (
	bigLogOnce sync.Once
	bigLogDir  string
	bigLogErr  error
)

const bigLogRecords = 1_000_000

// bigLog builds a log of one million records once per test binary run.
func bigLog(b *testing.B) string {
	bigLogOnce.Do(func() {
		bigLogDir, bigLogErr = os.MkdirTemp("", "zonegate-audit-1m-")
		if bigLogErr != nil {
			return
		}
		o := Options{Dir: bigLogDir, Gateway: "line3-gw", BootID: "bench", MaxBytes: 1 << 30, blockingEnqueue: true}
		l, err := Open(o)
		if err != nil {
			bigLogErr = err
			return
		}
		for i := 0; i < bigLogRecords; i++ {
			l.Enqueue(dataRecord(i))
		}
		bigLogErr = l.Close()
	})
	if bigLogErr != nil {
		b.Fatal(bigLogErr)
	}
	return bigLogDir
}

// BenchmarkVerify1M verifies a log of one million records (chain, HMAC and
// signatures). Building the log takes a while; skipped in -short mode.
func BenchmarkVerify1M(b *testing.B) {
	if testing.Short() {
		b.Skip("builds a 1M-record log; skipped in -short mode")
	}
	dir := bigLog(b)
	b.ResetTimer()
	var recs uint64
	for i := 0; i < b.N; i++ {
		rep, err := Verify(dir, VerifyOptions{})
		if err != nil || !rep.Intact() {
			b.Fatalf("verify: %v %s", err, problems(rep))
		}
		recs += rep.Records
	}
	b.StopTimer()
	reportRate(b, int(recs))
}
