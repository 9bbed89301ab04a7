package e2e

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/zonegate/zonegate/gateway/api"
	"github.com/zonegate/zonegate/test/lab"
)

// TestMgmtChanges runs zonegate serve in namespace labs and drives it with
// the CLI: pushes that roll back at their deadline, pushes that are
// confirmed, a restart while a push waits for confirmation, island mode,
// nftables tampering and fail close at boot. Real TCP and ICMP through the
// lab's gateway show what the kernel does; the audit log, verified
// afterwards, must hold every step with the right user.
func TestMgmtChanges(t *testing.T) {
	mgRequire(t)
	t.Parallel()
	bin := mgBuild(t)

	t.Run("PushRollsBackAtDeadline", func(t *testing.T) {
		t.Parallel()
		// The confirm window comes from the settings: the push gives none.
		const window = 4 * time.Second
		l, d, tr := mgLabDaemon(t, bin, "zgmg1", mgSettings("changes:", "  confirm_within: "+window.String()), mgModelBase)
		d.initAdmin(t)
		d.addUser(t, "erin", "engineer", mgEngineerPW)
		base := mgRuleset(t, l.Gateway)
		mgExpectFlows(t, tr, "with the base model", map[int]bool{7000: false, 7001: true})

		open := filepath.Join(d.Dir, "open.yaml")
		mgWrite(t, open, mgModelOpen)
		pushed := time.Now()
		out := d.mustCLI(t, "erin", "", "push", open, "--comment", "open tcp/7000")
		if !strings.Contains(out, "applied as version 2") || !strings.Contains(out, "zonegate confirm") {
			t.Errorf("push output does not name version 2 and the confirm deadline:\n%s", out)
		}
		st := d.status(t, "erin")
		if st.Pending == nil || st.Pending.Version != 2 || st.Pending.Previous != 1 || st.Pending.User != "erin" || st.Version != 2 {
			t.Fatalf("after the push, status = version %d pending %+v; want version 2 pending (previous 1, by erin)", st.Version, st.Pending)
		}
		if !tr.passes(7000, mgWait(true)) {
			if time.Since(pushed) >= window {
				t.Fatalf("inconclusive: the traffic check came %s after the push, past the %s confirm window; the machine is too slow for this test", time.Since(pushed), window)
			}
			t.Fatalf("tcp/7000 does not pass while the pushed model (which opens it) waits for confirmation\n%s", mgRuleset(t, l.Gateway))
		}

		st = d.waitStatus(t, "erin", "automatic rollback of version 2", 60*time.Second, func(st api.Status) bool { return st.Pending == nil })
		if st.Version != 1 {
			t.Errorf("after the deadline the running version is %d, want 1", st.Version)
		}
		mgExpectFlows(t, tr, "after the automatic rollback", map[int]bool{7000: false, 7001: true})
		if got := mgRuleset(t, l.Gateway); got != base {
			t.Errorf("after the rollback table inet zonegate is not the base model's again:\n--- before the push\n%s\n--- after the rollback\n%s", base, got)
		}
		if got := mgHistoryStates(d.history(t, "erin")); got != "1:running 2:rolled-back" {
			t.Errorf("history = %q, want 1:running 2:rolled-back", got)
		}
		if vs := d.history(t, "erin"); len(vs) == 2 && vs[1].User != "erin" {
			t.Errorf("history names %q as the user of version 2, want erin", vs[1].User)
		}

		d.stop(t)
		mgAuditVerify(t, bin, d.AuditDir())
		recs := mgAuditShow(t, bin, d.AuditDir())
		mgAuditExpect(t, recs,
			mgWant{Category: "service", Action: "start", Actor: "zonegate", Result: "success"},
			mgWant{Category: "config", Action: "model-applied", Actor: "zonegate", Result: "success", Object: "model v1"},
			mgWant{Category: "account", Action: "create", Actor: "@init", Result: "success", Object: "user:admin"},
			mgWant{Category: "account", Action: "login-success", Actor: "admin", Result: "success"},
			mgWant{Category: "account", Action: "create", Actor: "admin", Result: "success", Object: "user:erin", Detail: [2]string{"role", "engineer"}},
			mgWant{Category: "account", Action: "login-success", Actor: "erin", Result: "success"},
			mgWant{Category: "config", Action: "model-applied", Actor: "erin", Result: "success", Object: "model v2", Detail: [2]string{"diff", "rolls back unless confirmed"}},
			mgWant{Category: "config", Action: "model-rolled-back", Actor: "zonegate", Result: "success", Object: "model v2", Detail: [2]string{"diff", "not confirmed before the deadline"}},
			mgWant{Category: "service", Action: "stop", Actor: "zonegate", Result: "success"},
		)
		mgNoRecord(t, recs, mgWant{Category: "config", Action: "model-confirmed"})
	})

	t.Run("PushConfirmStays", func(t *testing.T) {
		t.Parallel()
		_, d, tr := mgLabDaemon(t, bin, "zgmg2", mgSettings(), mgModelBase)
		d.initAdmin(t)
		d.addUser(t, "erin", "engineer", mgEngineerPW)
		d.addUser(t, "oscar", "operator", mgOperatorPW)
		open := filepath.Join(d.Dir, "open.yaml")
		mgWrite(t, open, mgModelOpen)

		if e := d.failCLI(t, "oscar", "", "confirm"); !strings.Contains(e, "nothing to confirm") {
			t.Errorf("confirm without a pending push: %q, want it to say there is nothing to confirm", e)
		}
		d.mustCLI(t, "erin", "", "push", open, "--confirm-within", "6s")
		st := d.status(t, "oscar")
		if st.Pending == nil {
			t.Fatalf("the push with --confirm-within 6s is not pending: %+v", st)
		}
		deadline := st.Pending.Deadline
		if e := d.failCLI(t, "erin", "", "push", open); !strings.Contains(e, "waiting for confirmation") {
			t.Errorf("a second push while one is pending: %q, want a refusal that names the pending one", e)
		}
		out := d.mustCLI(t, "oscar", "", "confirm")
		if !strings.Contains(out, "version 2") {
			t.Errorf("confirm output does not name version 2: %s", out)
		}
		// Past the old deadline nothing may roll back.
		time.Sleep(time.Until(deadline) + 1500*time.Millisecond)
		st = d.status(t, "oscar")
		if st.Version != 2 || st.Pending != nil {
			t.Fatalf("after the deadline of a confirmed push: version %d pending %+v; want version 2, nothing pending", st.Version, st.Pending)
		}
		mgExpectFlows(t, tr, "after the deadline of the confirmed push", map[int]bool{7000: true, 7001: true})
		if got := mgHistoryStates(d.history(t, "oscar")); got != "1:superseded 2:running" {
			t.Errorf("history = %q, want 1:superseded 2:running", got)
		}

		// An operator may go back to the previous version by hand.
		out = d.mustCLI(t, "oscar", "", "rollback")
		if !strings.Contains(out, "version 1 runs") {
			t.Errorf("rollback output: %s", out)
		}
		mgExpectFlows(t, tr, "after the manual rollback", map[int]bool{7000: false, 7001: true})
		if got := mgHistoryStates(d.history(t, "oscar")); got != "1:running 2:superseded" {
			t.Errorf("history after the manual rollback = %q, want 1:running 2:superseded", got)
		}

		// A pending push can be rolled back by hand before its deadline.
		d.mustCLI(t, "erin", "", "push", open, "--confirm-within", "10m")
		mgExpectFlows(t, tr, "with version 3 pending", map[int]bool{7000: true})
		out = d.mustCLI(t, "oscar", "", "rollback")
		if !strings.Contains(out, "version 1 runs") {
			t.Errorf("rollback of the pending push: %s", out)
		}
		if st := d.status(t, "oscar"); st.Version != 1 || st.Pending != nil {
			t.Errorf("after rolling back the pending push: version %d pending %+v", st.Version, st.Pending)
		}
		mgExpectFlows(t, tr, "after rolling back the pending push", map[int]bool{7000: false, 7001: true})
		if got := mgHistoryStates(d.history(t, "oscar")); got != "1:running 2:superseded 3:rolled-back" {
			t.Errorf("history after rolling back the pending push = %q", got)
		}

		d.stop(t)
		mgAuditVerify(t, bin, d.AuditDir())
		recs := mgAuditShow(t, bin, d.AuditDir())
		mgAuditExpect(t, recs,
			mgWant{Category: "config", Action: "model-applied", Actor: "erin", Result: "success", Object: "model v2"},
			mgWant{Category: "config", Action: "model-confirmed", Actor: "oscar", Result: "success", Object: "model v2", Detail: [2]string{"diff", "pushed by erin"}},
			mgWant{Category: "config", Action: "model-rolled-back", Actor: "oscar", Result: "success", Object: "model v2", Detail: [2]string{"diff", "back to version 1"}},
			mgWant{Category: "config", Action: "model-applied", Actor: "erin", Result: "success", Object: "model v3"},
			mgWant{Category: "config", Action: "model-rolled-back", Actor: "oscar", Result: "success", Object: "model v3", Detail: [2]string{"diff", "rolled back by oscar"}},
		)
		mgNoRecord(t, recs, mgWant{Category: "config", Action: "model-rolled-back", Actor: "zonegate", Result: "success"})
	})

	t.Run("RestartRollsBackPending", func(t *testing.T) {
		t.Parallel()
		l, d, tr := mgLabDaemon(t, bin, "zgmg3", mgSettings(), mgModelBase)
		d.initAdmin(t)
		open := filepath.Join(d.Dir, "open.yaml")
		mgWrite(t, open, mgModelOpen)
		d.mustCLI(t, "admin", "", "push", open, "--confirm-within", "10m")
		mgExpectFlows(t, tr, "with the pushed model pending", map[int]bool{7000: true, 7001: true})

		d.stop(t)
		if mgRuleset(t, l.Gateway) == "" {
			t.Errorf("table inet zonegate is gone after SIGTERM; the ruleset must stay in the kernel")
		}
		d.start(t)
		// Sessions live in memory: the restart ended them.
		if _, e, code := d.cli(t, "admin", "", "status"); code != 1 || !strings.Contains(e, "log in again") {
			t.Errorf("status with a session from before the restart: exit %d %q; want a refusal asking to log in again", code, e)
		}
		d.login(t, "admin", mgAdminPW)
		st := d.status(t, "admin")
		if st.Version != 1 || st.Pending != nil || st.Island {
			t.Errorf("after the restart: version %d pending %+v island %v; want version 1, nothing pending, no island", st.Version, st.Pending, st.Island)
		}
		mgExpectFlows(t, tr, "after the restart", map[int]bool{7000: false, 7001: true})
		if got := mgHistoryStates(d.history(t, "admin")); got != "1:running 2:rolled-back" {
			t.Errorf("history = %q, want 1:running 2:rolled-back", got)
		}

		d.stop(t)
		mgAuditVerify(t, bin, d.AuditDir())
		recs := mgAuditShow(t, bin, d.AuditDir())
		mgAuditExpect(t, recs,
			mgWant{Category: "config", Action: "model-applied", Actor: "admin", Result: "success", Object: "model v2"},
			mgWant{Category: "service", Action: "stop", Actor: "zonegate", Result: "success"},
			mgWant{Category: "service", Action: "start", Actor: "zonegate", Result: "success"},
			mgWant{Category: "config", Action: "model-rolled-back", Actor: "zonegate", Result: "success", Object: "model v2", Detail: [2]string{"diff", "restart"}},
			mgWant{Category: "config", Action: "model-applied", Actor: "zonegate", Result: "success", Object: "model v1"},
		)
	})

	t.Run("IslandMode", func(t *testing.T) {
		t.Parallel()
		l, d, tr := mgLabDaemon(t, bin, "zgmg4", mgSettings(), mgModelOpen)
		d.initAdmin(t)
		d.addUser(t, "oscar", "operator", mgOperatorPW)
		d.addUser(t, "vera", "viewer", mgViewerPW)
		opsHost, cellHost := l.Zones["ops"], l.Zones["cell"]
		gwOps, gwCell := mgGatewayAddr(t, l, "ops"), mgGatewayAddr(t, l, "cell")
		cellAddr, _ := cellHost.Addr(4)
		check := func(when string, island bool) {
			t.Helper()
			mgExpectFlows(t, tr, when, map[int]bool{7000: !island, 7001: !island})
			if got := mgPing(opsHost.NS, cellAddr, mgWait(!island)); got == island {
				t.Errorf("%s: ping ops -> cell host answered=%v, want %v", when, got, !island)
			}
			if !mgPing(opsHost.NS, gwOps, mgWait(true)) {
				t.Errorf("%s: the gateway does not answer a ping from the management zone", when)
			}
			if mgPing(cellHost.NS, gwCell, mgWait(false)) {
				t.Errorf("%s: the gateway answers a ping from zone cell, which is no management zone", when)
			}
			st := d.status(t, "vera")
			if st.Island != island {
				t.Errorf("%s: status says island=%v", when, st.Island)
			}
			if island && !strings.Contains(st.IslandReason, "island on") {
				t.Errorf("%s: island reason %q does not say it was turned on by hand", when, st.IslandReason)
			}
		}
		check("before island mode", false)
		if e := d.failCLI(t, "vera", "", "island", "on"); !strings.Contains(e, "permission denied") {
			t.Errorf("a viewer turning island mode on: %q, want permission denied", e)
		}
		d.mustCLI(t, "oscar", "", "island", "on")
		check("in island mode", true)

		// Island mode survives a restart.
		d.stop(t)
		d.start(t)
		d.login(t, "oscar", mgOperatorPW)
		d.login(t, "vera", mgViewerPW)
		check("in island mode after a restart", true)

		d.mustCLI(t, "oscar", "", "island", "off")
		check("after island mode", false)

		d.stop(t)
		mgAuditVerify(t, bin, d.AuditDir())
		recs := mgAuditShow(t, bin, d.AuditDir())
		mgAuditExpect(t, recs,
			mgWant{Category: "config", Action: "island-mode", Actor: "vera", Result: "denied", Detail: [2]string{"role", "viewer"}},
			mgWant{Category: "config", Action: "island-mode", Actor: "oscar", Result: "success", Detail: [2]string{"state", "on"}},
			mgWant{Category: "service", Action: "start", Actor: "zonegate", Result: "success"},
			mgWant{Category: "config", Action: "island-mode", Actor: "oscar", Result: "success", Detail: [2]string{"state", "off"}},
		)
		if n := mgCount(recs, mgWant{Category: "config", Action: "island-mode", Actor: "oscar", Result: "success"}); n != 2 {
			t.Errorf("%d island-mode records by oscar, want 2 (on, off)", n)
		}
	})

	t.Run("DriftRestored", func(t *testing.T) {
		t.Parallel()
		l, d, tr := mgLabDaemon(t, bin, "zgmg5", mgSettings(), mgModelOpen)
		d.initAdmin(t)
		want := mgRuleset(t, l.Gateway)
		if want == "" {
			t.Fatal("zonegate serve installed no table inet zonegate")
		}
		tampers := []struct {
			name string
			nft  []string
		}{
			{"rule inserted", []string{"insert", "rule", "inet", "zonegate", "forward", "tcp", "dport", "7002", "accept"}},
			{"chain policy changed", []string{"add", "chain", "inet", "zonegate", "forward", "{", "policy", "accept", ";", "}"}},
			{"table deleted", []string{"delete", "table", "inet", "zonegate"}},
		}
		for i, tc := range tampers {
			// The daemon may repair the table before nft could list it:
			// the drift counter shows that it noticed.
			mgNft(t, l.Gateway, tc.nft...)
			st := d.waitStatus(t, "admin", tc.name+": drift counted", 30*time.Second, func(st api.Status) bool { return st.Drift.Detected >= uint64(i+1) })
			mgWaitRuleset(t, l.Gateway, want, tc.name, d)
			if st.Drift.Detected != uint64(i+1) {
				t.Errorf("%s: status counts %d drifts, want %d", tc.name, st.Drift.Detected, i+1)
			}
			mgExpectFlows(t, tr, tc.name+", restored", map[int]bool{7000: true, 7001: true})
		}
		// The log verifies while the daemon writes to it.
		mgAuditVerify(t, bin, d.AuditDir())
		d.stop(t)
		mgAuditVerify(t, bin, d.AuditDir())
		recs := mgAuditShow(t, bin, d.AuditDir())
		var wants []mgWant
		for range tampers {
			wants = append(wants,
				mgWant{Category: "config", Action: "drift-detected", Actor: "zonegate", Result: "failure", Object: "table inet zonegate"},
				mgWant{Category: "config", Action: "drift-restored", Actor: "zonegate", Result: "success", Object: "table inet zonegate"})
		}
		found := mgAuditExpect(t, recs, wants...)
		if len(found) > 0 && !strings.Contains(found[0].Details["diff"], "rules of chain forward: 1 rule(s) not installed by zonegate") {
			t.Errorf("the first drift record does not show the rule inserted into chain forward: %v", found[0].Details)
		}
		if n := mgCount(recs, mgWant{Category: "config", Action: "drift-detected", Actor: "zonegate", Result: "failure"}); n != len(tampers) {
			t.Errorf("%d drift-detected records for %d tamperings", n, len(tampers))
		}
	})

	t.Run("FailCloseAtBoot", func(t *testing.T) {
		t.Parallel()
		l := upLab(t, loadModelText(t, mgModelOpen), "zgmg6")
		tr := mgServe(t, l, "ops", "cell", 7000, 7001)
		cellAddr, _ := l.Zones["cell"].Addr(4)
		// Without zonegate the lab forwards everything: the drops below
		// are zonegate's doing.
		mgExpectFlows(t, tr, "before zonegate runs", map[int]bool{7000: true, 7001: true})
		if !mgPing(l.Zones["ops"].NS, cellAddr, mgWait(true)) {
			t.Fatal("before zonegate runs, ping ops -> cell does not pass; the lab is broken")
		}

		d := mgStartDaemon(t, bin, l.Gateway, mgSettings(), mgModelInvalid)
		mgExpectFlows(t, tr, "with an invalid model at boot", map[int]bool{7000: false, 7001: false})
		if mgPing(l.Zones["ops"].NS, cellAddr, mgWait(false)) {
			t.Error("with an invalid model at boot, ping ops -> cell passes")
		}
		d.initAdmin(t)
		st := d.status(t, "admin")
		if !st.Island || !strings.Contains(st.IslandReason, "invalid") || !strings.Contains(st.IslandReason, d.Model+":17:11:") {
			t.Errorf("status: island=%v reason %q; want island with the reason naming %s:17:11:", st.Island, st.IslandReason, d.Model)
		}
		out := d.mustCLI(t, "admin", "", "status")
		if !strings.Contains(out, "island:    ON: ") {
			t.Errorf("status does not say island ON:\n%s", out)
		}

		// The fail-close ruleset is defended against tampering as well.
		want := mgRuleset(t, l.Gateway)
		mgNft(t, l.Gateway, "delete", "table", "inet", "zonegate")
		mgWaitRuleset(t, l.Gateway, want, "fail-close table deleted", d)
		mgExpectFlows(t, tr, "after the fail-close table was deleted and restored", map[int]bool{7000: false, 7001: false})

		// A valid push ends the fail-close state.
		base := filepath.Join(d.Dir, "base.yaml")
		mgWrite(t, base, mgModelBase)
		d.mustCLI(t, "admin", "", "push", base, "--confirm-within", "0")
		st = d.status(t, "admin")
		if st.Island || st.Version != 1 {
			t.Errorf("after a valid push: island=%v (%q) version %d; want no island, version 1", st.Island, st.IslandReason, st.Version)
		}
		mgExpectFlows(t, tr, "after a valid push", map[int]bool{7000: false, 7001: true})

		// A restart with the model file still broken keeps the last good
		// version running instead of failing closed again.
		d.stop(t)
		d.start(t)
		d.login(t, "admin", mgAdminPW)
		st = d.status(t, "admin")
		if st.Island || st.Version != 1 {
			t.Errorf("after a restart with the broken file: island=%v (%q) version %d; want the pushed version 1 running", st.Island, st.IslandReason, st.Version)
		}
		mgExpectFlows(t, tr, "after a restart with the broken file", map[int]bool{7000: false, 7001: true})

		d.stop(t)
		mgAuditVerify(t, bin, d.AuditDir())
		recs := mgAuditShow(t, bin, d.AuditDir())
		mgAuditExpect(t, recs,
			mgWant{Category: "service", Action: "start", Actor: "zonegate", Result: "success"},
			mgWant{Category: "config", Action: "model-rejected", Actor: "zonegate", Result: "failure", Object: "model", Detail: [2]string{"diff", d.Model + ":17:11:"}},
			mgWant{Category: "config", Action: "drift-detected", Actor: "zonegate", Result: "failure"},
			mgWant{Category: "config", Action: "drift-restored", Actor: "zonegate", Result: "success"},
			mgWant{Category: "config", Action: "model-applied", Actor: "admin", Result: "success", Object: "model v1"},
			mgWant{Category: "config", Action: "model-rejected", Actor: "zonegate", Result: "failure", Object: d.Model},
		)
	})
}

// mgLabDaemon builds a lab for the test models, starts echo servers on
// tcp/7000 and tcp/7001 in zone cell, and runs zonegate serve in the
// gateway with the given model file.
func mgLabDaemon(t *testing.T, bin, prefix, settings, model string) (*lab.Lab, *mgDaemon, mgTraffic) {
	t.Helper()
	l := upLab(t, loadModelText(t, mgModelOpen), prefix)
	tr := mgServe(t, l, "ops", "cell", 7000, 7001)
	d := mgStartDaemon(t, bin, l.Gateway, settings, model)
	return l, d, tr
}

// mgExpectFlows checks new TCP connections ops -> cell on each port.
func mgExpectFlows(t *testing.T, tr mgTraffic, when string, want map[int]bool) {
	t.Helper()
	for _, port := range []int{7000, 7001} {
		w, ok := want[port]
		if !ok {
			continue
		}
		if got := tr.passes(port, mgWait(w)); got != w {
			t.Errorf("%s: tcp/%d ops -> cell passes=%v, want %v", when, port, got, w)
		}
	}
}

// mgWaitRuleset waits until table inet zonegate is want again.
func mgWaitRuleset(t *testing.T, ns, want, what string, d *mgDaemon) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		got := mgRuleset(t, ns)
		if got == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: table inet zonegate not restored within 30s\n--- want\n%s\n--- got\n%s\ndaemon log:\n%s", what, want, got, mgTail(d.log.String(), 20))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// mgNoRecord fails when a record matching w (empty fields match any) is
// in the log.
func mgNoRecord(t *testing.T, recs []mgRecord, w mgWant) {
	t.Helper()
	for _, r := range recs {
		if r.Category == w.Category && r.Action == w.Action && (w.Actor == "" || r.Actor == w.Actor) && (w.Result == "" || r.Result == w.Result) {
			t.Errorf("unexpected audit record %s", r)
		}
	}
}
