package audit

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"math/rand"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"
)

const crashChildEnv = "ZG_AUDIT_CRASH_CHILD_DIR"

func crashOptions(dir string) Options {
	return Options{Dir: dir, Gateway: "crash-gw", BootID: "crash-boot", SegmentBytes: 64 << 10,
		CheckpointEvery: 25, CommitDelay: 5 * time.Millisecond}
}

// crashChild is the child process of TestCrashSafety (TestMain runs it
// when crashChildEnv is set): it appends as fast as it can and reports
// every acknowledged record on file descriptor 3, until it is killed.
func crashChild(dir string) {
	run, _ := strconv.ParseUint(os.Getenv("ZG_AUDIT_CRASH_RUN"), 10, 32)
	acks := os.NewFile(3, "acks")
	l, err := Open(crashOptions(dir))
	if err != nil {
		fmt.Fprintln(os.Stderr, "child: open:", err)
		os.Exit(3)
	}
	var mu sync.Mutex
	for g := 0; g < 4; g++ {
		go func(g uint64) {
			var msg [16]byte
			for i := uint64(0); ; i++ {
				tag := run<<32 | g<<24 | i
				r := configRecord(int(i))
				r.Object = "tag:" + strconv.FormatUint(tag, 10)
				seq, err := l.Append(context.Background(), r)
				if err != nil {
					fmt.Fprintln(os.Stderr, "child: append:", err)
					os.Exit(4)
				}
				binary.BigEndian.PutUint64(msg[:8], seq)
				binary.BigEndian.PutUint64(msg[8:], tag)
				mu.Lock()
				acks.Write(msg[:]) // 16 bytes: atomic on a pipe
				mu.Unlock()
			}
		}(uint64(g))
	}
	for i := 0; ; i++ { // data-plane traffic alongside, never acknowledged
		l.Enqueue(dataRecord(i))
		if i%16 == 0 {
			time.Sleep(time.Millisecond)
		}
	}
}

func TestCrashSafety(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test skipped in -short mode")
	}
	dir := t.TempDir()
	seed := time.Now().UnixNano()
	rng := rand.New(rand.NewSource(seed))
	t.Logf("seed %d", seed)
	acked := map[uint64]uint64{} // seq -> tag
	const kills = 60
	for run := 1; run <= kills; run++ {
		pr, pw, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(os.Args[0], "-test.run=^$", "-test.count=1")
		cmd.Env = append(os.Environ(), crashChildEnv+"="+dir, "ZG_AUDIT_CRASH_RUN="+strconv.Itoa(run))
		cmd.ExtraFiles = []*os.File{pw}
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		pw.Close()
		got := make(chan map[uint64]uint64, 1)
		first := make(chan struct{})
		go func() {
			m := map[uint64]uint64{}
			var msg [16]byte
			for {
				if _, err := io.ReadFull(pr, msg[:]); err != nil {
					break
				}
				if len(m) == 0 {
					close(first)
				}
				m[binary.BigEndian.Uint64(msg[:8])] = binary.BigEndian.Uint64(msg[8:])
			}
			if len(m) == 0 {
				close(first)
			}
			got <- m
		}()
		select {
		case <-first:
		case <-time.After(20 * time.Second):
			cmd.Process.Kill()
			t.Fatalf("run %d: child acknowledged nothing", run)
		}
		time.Sleep(time.Duration(rng.Intn(60_000)) * time.Microsecond)
		cmd.Process.Signal(syscall.SIGKILL)
		err = cmd.Wait()
		m := <-got
		pr.Close()
		if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() {
			t.Fatalf("run %d: child exited by itself (%v) instead of being killed", run, err)
		}
		for seq, tag := range m {
			if old, dup := acked[seq]; dup {
				t.Fatalf("run %d: seq %d acknowledged twice (tags %d and %d)", run, seq, old, tag)
			}
			acked[seq] = tag
		}
		rep := verify(t, dir, VerifyOptions{})
		if !rep.Intact() {
			t.Fatalf("run %d: log not intact after SIGKILL:\n%s", run, problems(rep))
		}
		checkAcked(t, dir, acked, run)
	}
	// A last clean open recovers the tail; everything is still there.
	l := openLog(t, crashOptions(dir))
	mustClose(t, l)
	rep := requireIntact(t, dir)
	checkAcked(t, dir, acked, kills+1)
	rec := countAction(readAll(t, dir, Filter{}), ActionRecovered)
	if rec < kills {
		t.Fatalf("%d recovered records after %d kills", rec, kills)
	}
	t.Logf("%d kills, %d acknowledged records, %d records in %d segments, all verified", kills, len(acked), rep.Records, rep.Segments)
}

func checkAcked(t *testing.T, dir string, acked map[uint64]uint64, run int) {
	t.Helper()
	found := 0
	err := Read(dir, Filter{Category: CategoryConfig}, func(e Entry) error {
		if tag, ok := acked[e.Seq]; ok {
			if e.Object != "tag:"+strconv.FormatUint(tag, 10) {
				return fmt.Errorf("seq %d holds %q, acknowledged as tag %d", e.Seq, e.Object, tag)
			}
			found++
		}
		return nil
	})
	if err != nil {
		t.Fatalf("after run %d: %v", run, err)
	}
	if found != len(acked) {
		t.Fatalf("after run %d: %d of %d acknowledged records are missing", run, len(acked)-found, len(acked))
	}
}
