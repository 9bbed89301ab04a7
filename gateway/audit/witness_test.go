package audit

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// historyLog is a closed log with copies of its files taken earlier, as an
// attacker could keep them (or find them in a backup).
type historyLog struct {
	o      Options
	pub    []byte
	oldCP  []byte // checkpoint.json while segment 2 was the newest
	midCP  []byte // checkpoint.json a little into the newest segment
	midSeg []byte // the newest segment at that moment
	newest string // path of the newest segment
	// collector holds the syslog messages of every record, as rsyslog
	// writes them with template "%rawmsg%\n".
	collector []byte
}

func copyFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	return b
}

// appendUntilSegment appends records until the log writes into segment n.
func appendUntilSegment(t *testing.T, l *Log, n uint64) {
	t.Helper()
	for i := 0; l.Stats().Segment < n; i++ {
		require.Less(t, i, 10000, "the log does not rotate")
		appendN(t, l, 1)
	}
}

func newHistoryLog(t *testing.T) *historyLog {
	t.Helper()
	h := &historyLog{o: testOptions(t)}
	h.o.SegmentBytes = 64 << 10
	h.o.CheckpointEvery = 20
	l := openLog(t, h.o)
	appendUntilSegment(t, l, 2)
	appendN(t, l, 30)
	h.oldCP = copyFile(t, filepath.Join(h.o.Dir, checkpointFile))
	appendUntilSegment(t, l, 3)
	appendN(t, l, 30)
	h.midCP = copyFile(t, filepath.Join(h.o.Dir, checkpointFile))
	h.newest = lastSegment(t, h.o.Dir).path
	h.midSeg = copyFile(t, h.newest)
	appendN(t, l, 40)
	require.EqualValues(t, 3, l.Stats().Segment, "the test needs segment 3 to stay the newest")
	mustClose(t, l)
	require.Equal(t, h.newest, lastSegment(t, h.o.Dir).path)
	pub, err := LoadPublicKey(DefaultKeyDir(h.o.Dir))
	require.NoError(t, err)
	h.pub = pub
	h.collector = collectorFile(t, h.o.Dir, false)
	return h
}

// collectorFile formats every record of dir as the syslog export does:
// one message per line (rawmsg), or octet-counted as on the wire.
func collectorFile(t *testing.T, dir string, framed bool) []byte {
	t.Helper()
	s, err := SyslogSettings{Address: "192.0.2.1:6514"}.withDefaults(dir, "line3-gw")
	require.NoError(t, err)
	f := newSyslogFormatter(&s)
	var out []byte
	for _, e := range readAll(t, dir, Filter{}) {
		m := f.appendFrame(nil, &e)
		if !framed {
			m = append(m[bytes.IndexByte(m, ' ')+1:], '\n')
		}
		out = append(out, m...)
	}
	return out
}

func writeTemp(t *testing.T, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	require.NoError(t, os.WriteFile(p, data, 0o644))
	return p
}

func loadWitness(t *testing.T, name string, data []byte) *Witness {
	t.Helper()
	w, err := LoadWitness(writeTemp(t, name, data))
	require.NoError(t, err)
	return w
}

func TestVerifyNewestSegmentAndWitness(t *testing.T) {
	type witnessKind int
	const (
		none witnessKind = iota
		finalCheckpoint
		collector
	)
	cases := []struct {
		name    string
		tamper  func(t *testing.T, h *historyLog)
		witness witnessKind
		// localBad: the log's own evidence fails it (with or without a witness).
		localBad bool
		// want: a problem message fragment, "" for an intact log.
		want string
	}{
		{name: "intact", tamper: func(*testing.T, *historyLog) {}},
		{name: "intact with checkpoint.json witness", tamper: func(*testing.T, *historyLog) {}, witness: finalCheckpoint},
		{name: "intact with collector witness", tamper: func(*testing.T, *historyLog) {}, witness: collector},
		{
			name: "delete newest segment and checkpoint.json",
			tamper: func(t *testing.T, h *historyLog) {
				require.NoError(t, os.Remove(h.newest))
				require.NoError(t, os.Remove(filepath.Join(h.o.Dir, checkpointFile)))
			},
			localBad: true, want: "checkpoint.json is missing",
		},
		{
			name: "delete newest segment, restore older checkpoint.json",
			tamper: func(t *testing.T, h *historyLog) {
				require.NoError(t, os.Remove(h.newest))
				require.NoError(t, os.WriteFile(filepath.Join(h.o.Dir, checkpointFile), h.oldCP, 0o644))
			},
			localBad: true, want: "replaced by an older copy",
		},
		{
			name: "delete newest segment, restore older checkpoint.json, with witness",
			tamper: func(t *testing.T, h *historyLog) {
				require.NoError(t, os.Remove(h.newest))
				require.NoError(t, os.WriteFile(filepath.Join(h.o.Dir, checkpointFile), h.oldCP, 0o644))
			},
			witness: collector, localBad: true, want: "log truncated",
		},
		{
			// Consistent in itself: only a copy kept elsewhere can tell.
			name: "replace newest segment with an older copy and older checkpoint.json",
			tamper: func(t *testing.T, h *historyLog) {
				require.NoError(t, os.WriteFile(h.newest, h.midSeg, 0o640))
				require.NoError(t, os.WriteFile(filepath.Join(h.o.Dir, checkpointFile), h.midCP, 0o644))
			},
		},
		{
			name: "witness ahead of the log (checkpoint.json kept off the box)",
			tamper: func(t *testing.T, h *historyLog) {
				require.NoError(t, os.WriteFile(h.newest, h.midSeg, 0o640))
				require.NoError(t, os.WriteFile(filepath.Join(h.o.Dir, checkpointFile), h.midCP, 0o644))
			},
			witness: finalCheckpoint, want: "log truncated",
		},
		{
			name: "witness ahead of the log (collector file)",
			tamper: func(t *testing.T, h *historyLog) {
				require.NoError(t, os.WriteFile(h.newest, h.midSeg, 0o640))
				require.NoError(t, os.WriteFile(filepath.Join(h.o.Dir, checkpointFile), h.midCP, 0o644))
			},
			witness: collector, want: "log truncated",
		},
		{
			name: "syslog cursor ahead of the log",
			tamper: func(t *testing.T, h *historyLog) {
				es := readAll(t, h.o.Dir, Filter{})
				last := es[len(es)-1]
				require.NoError(t, writeCursor(filepath.Join(h.o.Dir, "syslog-192.0.2.1_6514.cursor"), cursor{Seq: last.Seq, Hash: last.Hash}))
				require.NoError(t, os.WriteFile(h.newest, h.midSeg, 0o640))
				require.NoError(t, os.WriteFile(filepath.Join(h.o.Dir, checkpointFile), h.midCP, 0o644))
			},
			localBad: true, want: "delivered to a collector",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHistoryLog(t)
			final := copyFile(t, filepath.Join(h.o.Dir, checkpointFile))
			tc.tamper(t, h)

			local := verify(t, h.o.Dir, VerifyOptions{PublicKey: h.pub})
			assert.Equal(t, !tc.localBad, local.Intact(), "without a witness:\n%s", problems(local))

			var w *Witness
			switch tc.witness {
			case finalCheckpoint:
				w = loadWitness(t, "checkpoint.json", final)
			case collector:
				w = loadWitness(t, "collector.log", h.collector)
			}
			if w == nil {
				if tc.want != "" && tc.localBad {
					assert.Contains(t, problems(local), tc.want)
				}
				return
			}
			rep := verify(t, h.o.Dir, VerifyOptions{PublicKey: h.pub, Witness: w})
			if tc.want == "" {
				assert.True(t, rep.Intact(), "with witness %s:\n%s", w.Source, problems(rep))
				assert.NotZero(t, rep.WitnessSeq)
				return
			}
			require.False(t, rep.Intact(), "tampering not detected with witness %s:\n%s", w.Source, problems(rep))
			assert.Contains(t, problems(rep), tc.want)
			t.Logf("detected:\n%s", problems(rep))
		})
	}
}

// TestWitnessHeadMismatch: root on the gateway has both keys and rewrites
// the log from the start, signing every checkpoint anew. Only the
// checkpoints the collector received before show it.
func TestWitnessHeadMismatch(t *testing.T) {
	real := testOptions(t)
	real.CheckpointEvery = 20
	l := openLog(t, real)
	appendN(t, l, 100)
	mustClose(t, l)
	witness := loadWitness(t, "collector.log", collectorFile(t, real.Dir, true))

	// The forged log: same keys, other records, longer than the original.
	forged := testOptions(t)
	forged.CheckpointEvery = 20
	forged.KeyDir = filepath.Join(forged.Dir, "keys")
	require.NoError(t, os.MkdirAll(forged.KeyDir, 0o700))
	for _, k := range []string{"hmac.key", "signing.key", "signing.pub"} {
		require.NoError(t, os.WriteFile(filepath.Join(forged.KeyDir, k), copyFile(t, filepath.Join(DefaultKeyDir(real.Dir), k)), 0o600))
	}
	l = openLog(t, forged)
	for i := 0; i < 150; i++ {
		r := configRecord(i)
		if i == 30 {
			r.Actor = "someone-else"
		}
		_, err := l.Append(context.Background(), r)
		require.NoError(t, err)
	}
	mustClose(t, l)
	pub, err := LoadPublicKey(DefaultKeyDir(real.Dir))
	require.NoError(t, err)

	local := verify(t, forged.Dir, VerifyOptions{PublicKey: pub})
	require.True(t, local.Intact(), "the forged log is consistent in itself:\n%s", problems(local))
	rep := verify(t, forged.Dir, VerifyOptions{PublicKey: pub, Witness: witness})
	require.False(t, rep.Intact())
	assert.Contains(t, problems(rep), "the log was rewritten")
	assert.LessOrEqual(t, rep.FirstBad(), uint64(60), "the first checkpoint after the change names it:\n%s", problems(rep))
}

func TestWitnessForeignKeyAndParsing(t *testing.T) {
	h := newHistoryLog(t)
	other := newHistoryLog(t)
	// A collector file holding two gateways' messages: the other log's
	// checkpoints are ignored, ours are used.
	mixed := append(append([]byte(nil), other.collector...), h.collector...)
	w := loadWitness(t, "mixed.log", mixed)
	rep := verify(t, h.o.Dir, VerifyOptions{PublicKey: h.pub, Witness: w})
	assert.True(t, rep.Intact(), problems(rep))
	assert.Contains(t, strings.Join(rep.Warnings, "\n"), "were ignored")

	// Only foreign checkpoints: the witness cannot vouch for anything.
	w = loadWitness(t, "other.log", other.collector)
	rep = verify(t, h.o.Dir, VerifyOptions{PublicKey: h.pub, Witness: w})
	assert.False(t, rep.Intact())
	assert.Contains(t, problems(rep), "none signed by key")

	// Octet-counted framing (a capture of the wire) parses too.
	wf := loadWitness(t, "wire.bin", collectorFile(t, h.o.Dir, true))
	assert.Equal(t, len(w.Checkpoints), len(wf.Checkpoints))

	// Not a witness at all.
	_, err := LoadWitness(writeTemp(t, "junk.txt", []byte("hello\n")))
	assert.ErrorContains(t, err, "neither a checkpoint.json")
	_, err = LoadWitness(writeTemp(t, "pruned.json", []byte(`{"gateway":"g","seq":5,"head":"00","next_segment":2,"signature":"x"}`)))
	assert.ErrorContains(t, err, "prune statement")
	_, err = LoadWitness(filepath.Join(t.TempDir(), "missing"))
	assert.Error(t, err)
}

func TestParseSDElementEscapes(t *testing.T) {
	p, n, err := parseSDElement([]byte(`[zgdetails@32473 diff="a \"quoted\" \] \\ value" x="" ]rest`))
	require.NoError(t, err)
	assert.Equal(t, `a "quoted" ] \ value`, p["diff"])
	assert.Equal(t, "", p["x"])
	assert.Equal(t, "rest", string([]byte(`[zgdetails@32473 diff="a \"quoted\" \] \\ value" x="" ]rest`)[n:]))
	for _, bad := range []string{`[zonegate@1 a="unterminated`, `[zonegate@1 a=b]`, `[zonegate@1 ="x"]`} {
		_, _, err := parseSDElement([]byte(bad))
		assert.Error(t, err, bad)
	}
}

// TestRestartAfterRemovedNewestSegment: the newest segment and
// checkpoint.json are removed while zonegate is stopped, and zonegate starts
// again. The log records it at once, so the next checkpoint.json does not
// cover it up.
func TestRestartAfterRemovedNewestSegment(t *testing.T) {
	for _, restoreOld := range []bool{false, true} {
		t.Run(map[bool]string{false: "checkpoint.json deleted", true: "older checkpoint.json restored"}[restoreOld], func(t *testing.T) {
			h := newHistoryLog(t)
			require.NoError(t, os.Remove(h.newest))
			cp := filepath.Join(h.o.Dir, checkpointFile)
			require.NoError(t, os.Remove(cp))
			if restoreOld {
				require.NoError(t, os.WriteFile(cp, h.oldCP, 0o644))
			}
			l := openLog(t, h.o)
			appendN(t, l, 5)
			mustClose(t, l)

			fails := readAll(t, h.o.Dir, Filter{Action: ActionFailure})
			require.Len(t, fails, 1)
			assert.Equal(t, checkpointFile, fails[0].Object)
			rep := verify(t, h.o.Dir, VerifyOptions{PublicKey: h.pub})
			require.False(t, rep.Intact())
			assert.Contains(t, problems(rep), "at a start the log recorded: checkpoint.json")
			assert.Equal(t, fails[0].Seq, rep.FirstBad())
		})
	}
}

// TestCrashBetweenCheckpointAndFile: zonegate stopped after a checkpoint
// record was durable but before checkpoint.json named it. Verify accepts
// it with a warning, and the next start completes checkpoint.json.
func TestCrashBetweenCheckpointAndFile(t *testing.T) {
	o := testOptions(t)
	o.CheckpointEvery = 20
	l := openLog(t, o)
	appendN(t, l, 50)
	mustClose(t, l) // ends with the close checkpoint
	cps := readAll(t, o.Dir, Filter{Action: ActionCheckpoint})
	require.GreaterOrEqual(t, len(cps), 2)
	prev, err := statementFromDetails(cps[len(cps)-2].Gateway, cps[len(cps)-2].Details)
	require.NoError(t, err)
	cp := filepath.Join(o.Dir, checkpointFile)
	require.NoError(t, writeStatement(cp, &prev))

	rep := verify(t, o.Dir, VerifyOptions{})
	require.True(t, rep.Intact(), problems(rep))
	assert.Contains(t, strings.Join(rep.Warnings, "\n"), "one checkpoint behind")

	l = openLog(t, o)
	got, err := readStatement(cp)
	require.NoError(t, err)
	newest, _ := statementFromDetails(cps[len(cps)-1].Gateway, cps[len(cps)-1].Details)
	assert.Equal(t, newest.Seq, got.Seq, "checkpoint.json completed at start")
	mustClose(t, l)
	assert.Empty(t, readAll(t, o.Dir, Filter{Action: ActionFailure}))
	requireIntact(t, o.Dir)

	// Two checkpoints behind is no crash: refused.
	cps = readAll(t, o.Dir, Filter{Action: ActionCheckpoint})
	old, _ := statementFromDetails(cps[len(cps)-3].Gateway, cps[len(cps)-3].Details)
	require.NoError(t, writeStatement(cp, &old))
	rep = verify(t, o.Dir, VerifyOptions{})
	assert.False(t, rep.Intact())
	assert.Contains(t, problems(rep), "replaced by an older copy")
}
