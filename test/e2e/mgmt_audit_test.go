package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestMgmtAuditPromises checks the audit log's promises on a running
// `zonegate serve`: a log cut at its newest segment fails verification,
// with and without a witness kept off the box; a flood of calls without a
// session leaves a few aggregated records naming the caller's uid and the
// route; `status --diagram` draws the running model with live counters.
func TestMgmtAuditPromises(t *testing.T) {
	mgRequire(t)
	t.Parallel()
	bin := mgBuild(t)

	t.Run("CutLogFailsVerify", func(t *testing.T) {
		t.Parallel()
		ns := mgNamespace(t, "zgwa1")
		// 1 MiB of log: segments of 64 KiB, so a few hundred records
		// start new segments.
		d := mgStartDaemon(t, bin, ns, mgSettings("audit:", "  max_size: 1MiB"), mgModelBase)
		d.initAdmin(t)
		d.addUser(t, "vera", "viewer", mgViewerPW)
		saved := mgTempDir(t) // "off the gateway"
		keep := func(name string) string {
			p := filepath.Join(saved, name)
			b, err := os.ReadFile(filepath.Join(d.AuditDir(), "checkpoint.json"))
			require.NoError(t, err, "checkpoint.json of the stopped daemon")
			require.NoError(t, os.WriteFile(p, b, 0o600))
			return p
		}
		pub := filepath.Join(saved, "audit.pub")
		_, errOut, code := labExec(t, bin, "audit", "key", d.AuditDir(), "--out", pub)
		require.Equal(t, 0, code, errOut)

		d.stop(t)
		older := keep("checkpoint-1.json")
		// Two more runs, each long enough to start a new segment: the
		// checkpoint at the end of run 2 lies in an older segment than
		// the newest one.
		for run := 2; run <= 3; run++ {
			d.start(t)
			before := mgSegments(t, d.AuditDir())
			d.login(t, "vera", mgViewerPW) // sessions end with the daemon
			vera := d.token(t, "vera")
			for i := 0; i < 3000 && len(mgSegments(t, d.AuditDir())) == len(before); i++ {
				code, _ := d.api(t, "POST", "/v1/island", vera, `{"on":true}`)
				require.Equal(t, 403, code, "a viewer may not turn island mode on")
			}
			require.Greater(t, len(mgSegments(t, d.AuditDir())), len(before), "run %d started no new segment", run)
			d.stop(t)
			if run == 2 {
				keep("checkpoint-2.json")
			}
		}
		witness := keep("checkpoint-3.json")
		mgAuditVerify(t, bin, d.AuditDir())
		out, errOut, code := labExec(t, bin, "audit", "verify", d.AuditDir(), "--pubkey", pub, "--witness", witness)
		assert.Equal(t, 0, code, "intact log with its witness:\n%s%s", out, errOut)
		assert.Regexp(t, `witness checkpoint-3\.json: signed checkpoints up to record \d+ checked`, out)

		// The attack: remove the newest segment and put back an older
		// checkpoint.json.
		segs := mgSegments(t, d.AuditDir())
		require.GreaterOrEqual(t, len(segs), 3)
		require.NoError(t, os.Remove(filepath.Join(d.AuditDir(), segs[len(segs)-1])))
		b, err := os.ReadFile(older)
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(d.AuditDir(), "checkpoint.json"), b, 0o600))

		out, errOut, code = labExec(t, bin, "audit", "verify", d.AuditDir(), "--pubkey", pub)
		assert.Equal(t, 1, code, "verify of the cut log must fail (exit 1):\n%s%s", out, errOut)
		assert.Contains(t, out, "result: NOT INTACT")
		assert.Contains(t, out, "checkpoint.json", "the problem names checkpoint.json")
		t.Logf("cut log, older checkpoint.json, no witness:\n%s", out)
		out, errOut, code = labExec(t, bin, "audit", "verify", d.AuditDir(), "--pubkey", pub, "--witness", witness)
		assert.Equal(t, 1, code, "verify of the cut log with the witness must fail (exit 1):\n%s%s", out, errOut)
		assert.Contains(t, out, "result: NOT INTACT")
		assert.Contains(t, out, "log truncated", "the witness shows the log ends before its checkpoint")
		assert.Contains(t, out, "checkpoint-3.json")
		t.Logf("cut log, older checkpoint.json, with the witness:\n%s", out)

		// Older copies of checkpoint.json that match what is left: what
		// only the witness can catch.
		b, err = os.ReadFile(filepath.Join(saved, "checkpoint-2.json"))
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(d.AuditDir(), "checkpoint.json"), b, 0o600))
		out, _, code = labExec(t, bin, "audit", "verify", d.AuditDir(), "--pubkey", pub)
		t.Logf("cut log with the checkpoint.json of run 2, no witness: exit %d\n%s", code, out)
		assert.Equal(t, 0, code, "the documented limit: a cut log with a matching older checkpoint.json is consistent in itself")
		assert.Contains(t, out, "--witness", "but verify says a witness tells")
		out, errOut, code = labExec(t, bin, "audit", "verify", d.AuditDir(), "--pubkey", pub, "--witness", witness)
		assert.Equal(t, 1, code, "the witness catches the cut log whatever checkpoint.json says:\n%s%s", out, errOut)
		assert.Contains(t, out, "log truncated")

		// zonegate started on a cut log with an older checkpoint.json
		// records a failure that keeps failing verification.
		b, err = os.ReadFile(older)
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(d.AuditDir(), "checkpoint.json"), b, 0o600))
		d.start(t)
		d.stop(t)
		out, errOut, code = labExec(t, bin, "audit", "verify", d.AuditDir(), "--pubkey", pub)
		assert.Equal(t, 1, code, "after a start on the cut log, verify still fails:\n%s%s", out, errOut)
		failures := 0
		for _, r := range mgAuditShow(t, bin, d.AuditDir()) {
			if r.Action == "failure" {
				failures++
			}
		}
		assert.Positive(t, failures, "the start on the cut log wrote a failure record")

		_, errOut, code = labExec(t, bin, "audit", "verify", d.AuditDir(), "--witness", filepath.Join(saved, "none.json"))
		assert.Equal(t, 2, code, "a witness that cannot be read: exit 2")
		assert.Contains(t, errOut, "--witness")
	})

	t.Run("UnauthenticatedFlood", func(t *testing.T) {
		t.Parallel()
		ns := mgNamespace(t, "zgwa2")
		d := mgStartDaemon(t, bin, ns, mgSettings(), mgModelBase)
		d.initAdmin(t)
		const noToken, badToken = 300, 100
		for i := 0; i < noToken; i++ {
			code, _ := d.api(t, "GET", "/v1/status", "", "")
			require.Equal(t, 401, code)
		}
		for i := 0; i < badToken; i++ {
			code, _ := d.api(t, "POST", fmt.Sprintf("/v1/users/u%d/disable", i), "not-a-token", "")
			require.Equal(t, 401, code)
		}
		d.stop(t) // writes the open interval
		recs := mgAuditShow(t, bin, d.AuditDir())
		counts := map[string]int{}
		n := 0
		for _, r := range recs {
			if r.Action != "unauthenticated" {
				continue
			}
			n++
			assert.Equal(t, "account", r.Category, "%s", r)
			assert.Equal(t, "denied", r.Result, "%s", r)
			assert.Equal(t, strconv.Itoa(os.Getuid()), r.Details["uid"], "the caller's uid: %s", r)
			assert.NotEmpty(t, r.Details["pid"], "%s", r)
			assert.NotEmpty(t, r.Details["first"], "%s", r)
			assert.NotEmpty(t, r.Details["last"], "%s", r)
			c, err := strconv.Atoi(r.Details["count"])
			require.NoError(t, err, "%s", r)
			counts[r.Object] += c
		}
		assert.LessOrEqual(t, n, 6, "a flood leaves a few aggregated records, not one per call:\n%s", mgRecords(recs))
		// The daemon's start was probed without a token as well.
		assert.GreaterOrEqual(t, counts["GET /v1/status"], noToken, "calls counted")
		assert.Equal(t, badToken, counts["POST /v1/users/{name}/{action}"], "calls counted under the route, not the raw path")
		mgAuditVerify(t, bin, d.AuditDir())
	})

	t.Run("StatusDiagram", func(t *testing.T) {
		t.Parallel()
		_, d, tr := mgLabDaemon(t, bin, "zgwa3", mgSettings(), mgModelOpen)
		d.initAdmin(t)
		d.addUser(t, "vera", "viewer", mgViewerPW)
		for i := 0; i < 3; i++ {
			require.True(t, tr.passes(7001, mgWait(true)), "tcp/7001 passes ops -> cell")
		}
		out := d.mustCLI(t, "vera", "", "status", "--diagram", "--format", "dot")
		assert.Contains(t, out, "digraph")
		assert.Contains(t, out, "ops-to-cell", "the drawing names every conduit")
		m := regexp.MustCompile(`(\d+) packets, `).FindAllStringSubmatch(out, -1)
		require.NotEmpty(t, m, "the conduits carry their counters:\n%s", out)
		nonZero := false
		for _, g := range m {
			nonZero = nonZero || g[1] != "0"
		}
		assert.True(t, nonZero, "a conduit that carried traffic shows it:\n%s", out)
		for _, f := range []string{"svg", "mermaid"} {
			out := d.mustCLI(t, "vera", "", "status", "--diagram", "--format", f)
			assert.Contains(t, out, "ops-to-cell", f)
		}
		out = d.mustCLI(t, "vera", "", "status")
		assert.Contains(t, out, "bounded by audit.max_size")
		assert.Contains(t, out, "no records lost since start")
	})
}

// mgSegments lists the audit log's segment files, oldest first.
func mgSegments(t *testing.T, dir string) []string {
	t.Helper()
	names, err := filepath.Glob(filepath.Join(dir, "audit-*.log"))
	require.NoError(t, err)
	for i, n := range names {
		names[i] = filepath.Base(n)
	}
	sort.Strings(names)
	return names
}
