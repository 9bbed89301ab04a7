package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zonegate/zonegate/test/prereq"
)

// TestFleetAnsible drives configs/ansible with Debian's ansible-core from a
// controller namespace against three gateway namespaces (sshd, zonegate
// serve, a cell host whose flows to a PLC host cross the gateway):
// accounts from an encrypted vault, daemon settings (syslog to the
// collector, metrics address) audited and applied, a staged rollout to all
// three, re-runs that change nothing, a check-mode diff, and a rollout whose
// model breaks the canary's health checks: the canary rolls back by
// itself, the other two are never touched, and every audit log says so.
func TestFleetAnsible(t *testing.T) {
	mgRequire(t)
	prereq.Command(t, "ansible-playbook", "ansible-core")
	prereq.Command(t, "ssh", "openssh-client")
	prereq.Command(t, "sshd", "openssh-server")
	prereq.Command(t, "rsyslogd", "rsyslog")
	prereq.Command(t, "promtool", "prometheus")
	prereq.PythonModules(t, "python3", "json", "subprocess")
	f := flNewFleet(t, mgBuild(t))
	gws := f.gws

	// 1. Accounts, from the vault; the first administrator on a gateway
	// without accounts.
	r := f.play(t, "accounts.yml")
	require.Equal(t, 0, r.code, "accounts play\n%s", r)
	for _, g := range gws {
		assert.Positive(t, r.Stats[g.name].Changed, "%s: accounts created", g.name)
		created := map[string]string{}
		for _, rec := range g.audit(t) {
			if rec.Category == "account" && rec.Action == "create" {
				created[rec.Object] = rec.Actor
			}
		}
		assert.Equal(t, map[string]string{"user:fleet-admin": "@init", "user:ansible": "fleet-admin", "user:shift-lead": "fleet-admin"}, created,
			"%s: the first administrator by init, the others by that administrator", g.name)
	}
	r = f.play(t, "accounts.yml")
	require.Equal(t, 0, r.code, "accounts play again\n%s", r)
	for _, g := range gws {
		assert.Zero(t, r.Stats[g.name].Changed, "%s: the accounts play again changes nothing", g.name)
	}

	// 2. Daemon settings: syslog collector and metrics address, checked,
	// installed, the daemon restarted; the change is audited.
	r = f.play(t, "settings.yml")
	require.Equal(t, 0, r.code, "settings play\n%s", r)
	for _, g := range gws {
		var keys []string
		for _, rec := range g.audit(t) {
			if rec.Action == "settings-changed" {
				keys = append(keys, rec.Details["summary"]+" "+fmt.Sprint(rec.Details))
			}
		}
		require.NotEmpty(t, keys, "%s: a settings-changed record", g.name)
		last := keys[len(keys)-1]
		assert.Contains(t, last, "audit.syslog", g.name)
		assert.Contains(t, last, "metrics.listen", g.name)
		body, err := f.httpGet("http://" + g.mgmtAddr + ":9469/metrics")
		require.NoError(t, err, "%s: metrics at the address the play set, from the controller\n%s", g.name, mgTail(g.log.String(), 20))
		assert.Contains(t, body, `zonegate_model_info{`, g.name)
	}
	r = f.play(t, "settings.yml")
	require.Equal(t, 0, r.code, "settings play again\n%s", r)
	for _, g := range gws {
		assert.Zero(t, r.Stats[g.name].Changed, "%s: the settings play again changes nothing", g.name)
	}

	// 3. Rollout of model a to all three.
	marks := map[string]uint64{}
	for _, g := range gws {
		marks[g.name] = flLastSeq(g.audit(t))
	}
	r = f.play(t, "rollout.yml", "-e", "rollout_model=a", "-e", `{"rollout_comment": "fleet change 1"}`)
	require.Equal(t, 0, r.code, "rollout of a\n%s", r)
	digestA := map[string]string{}
	for _, g := range gws {
		digestA[g.name] = modelDigest(t, f.bin, f.modelPath("a", g))
		assert.Equal(t, 1, r.Stats[g.name].Changed, "%s: model a pushed and confirmed", g.name)
		st := g.status(t)
		assert.Equal(t, digestA[g.name], st.Digest, "%s runs model a", g.name)
		assert.Nil(t, st.Pending, "%s: confirmed", g.name)
		res := r.Results[g.name]
		assert.Equal(t, true, res["confirmed"], "%s: %v", g.name, res)
		var actions []string
		for _, rec := range flManagement(g.audit(t), marks[g.name]) {
			actions = append(actions, rec.Actor+":"+rec.Action)
			if rec.Action == "model-applied" {
				assert.Equal(t, "fleet change 1", rec.Details["comment"], "%s: the play's comment in the audit record", g.name)
			}
		}
		assert.Equal(t, []string{"ansible:login-success", "ansible:model-applied", "ansible:model-confirmed"}, withoutLogout(actions),
			"%s: the audit log records the rollout under the account the play logs in as", g.name)
	}

	// 4. The same rollout again changes nothing, and pushes nothing.
	for _, g := range gws {
		marks[g.name] = flLastSeq(g.audit(t))
	}
	r = f.play(t, "rollout.yml", "-e", "rollout_model=a")
	require.Equal(t, 0, r.code, "rollout of a again\n%s", r)
	for _, g := range gws {
		assert.Zero(t, r.Stats[g.name].Changed, "%s: unchanged", g.name)
		for _, rec := range flManagement(g.audit(t), marks[g.name]) {
			assert.NotContains(t, rec.Action, "model-", "%s: nothing pushed: %s", g.name, rec)
		}
	}

	// 5. Check mode with diff: the ruleset diff of model b, nothing pushed.
	r = f.play(t, "rollout.yml", "-e", "rollout_model=b", "--check", "--diff")
	require.Equal(t, 0, r.code, "check mode\n%s", r)
	for _, g := range gws {
		res := r.Results[g.name]
		require.NotNil(t, res, "%s: the check-mode task ran\n%s", g.name, r)
		assert.Equal(t, true, res["changed"], "%s would change", g.name)
		assert.Equal(t, 1, r.Stats[g.name].Changed, "%s would change", g.name)
	}
	// The diff as the operator sees it, once per gateway.
	for _, want := range []string{"~ conduit cell-to-plc: services: [tcp/8502] -> [tcp/8503]",
		"+\t\tip daddr @net4_plc tcp dport 8503", "-\t\tip daddr @net4_plc tcp dport 8502"} {
		assert.Equal(t, len(gws), strings.Count(r.out, want), "the diff shows %q for each gateway\n%s", want, r)
	}
	for _, g := range gws {
		assert.Equal(t, digestA[g.name], g.status(t).Digest, "%s: still model a after check mode", g.name)
		for _, rec := range flManagement(g.audit(t), marks[g.name]) {
			assert.NotContains(t, rec.Action, "model-", "%s: check mode pushed nothing: %s", g.name, rec)
		}
	}

	// 6. Model b breaks the canary's flows: its health checks fail, it rolls
	// back by itself, the rollout stops before the other two.
	for _, g := range gws {
		marks[g.name] = flLastSeq(g.audit(t))
	}
	marked := time.Now()
	canary, others := gws[0], gws[1:]
	r = f.play(t, "rollout.yml", "-e", "rollout_model=b", "-e", `{"rollout_comment": "fleet change 2"}`)
	require.NotEqual(t, 0, r.code, "the rollout of b must fail\n%s", r)
	res := r.Results
	require.Contains(t, res, canary.name, "%s", r)
	cres := res[canary.name]
	assert.Equal(t, 1, r.Stats[canary.name].Failed, "the canary failed")
	assert.Equal(t, true, cres["rolled_back"], "%v", cres)
	assert.Contains(t, fmt.Sprint(cres["msg"]), "health check 'the PLC answers the cell host through the gateway' failed")
	assert.Contains(t, fmt.Sprint(cres["msg"]), "the gateway rolled back by itself to version")
	st := canary.status(t)
	assert.Equal(t, digestA[canary.name], st.Digest, "the canary runs model a again")
	assert.Nil(t, st.Pending)
	assert.NoError(t, canary.dialPLC(2*time.Second), "the canary's flows pass again")
	var applied, rolledBack *mgRecord
	recs := flManagement(canary.audit(t), marks[canary.name])
	for i := range recs {
		switch recs[i].Action {
		case "model-applied":
			applied = &recs[i]
		case "model-rolled-back":
			rolledBack = &recs[i]
		case "model-confirmed":
			t.Errorf("the canary confirmed model b: %s", recs[i])
		}
	}
	require.NotNil(t, applied, "canary audit: model b applied: %v", recs)
	require.NotNil(t, rolledBack, "canary audit: model b rolled back: %v", recs)
	assert.Equal(t, "ansible", applied.Actor)
	assert.Equal(t, "fleet change 2", applied.Details["comment"])
	assert.NotEqual(t, "ansible", rolledBack.Actor, "the gateway rolled back by itself, not on Ansible's command: %s", rolledBack)
	assert.Contains(t, fmt.Sprint(rolledBack.Details), "not confirmed before the deadline", "%s", rolledBack)
	for _, g := range others {
		assert.NotContains(t, res, g.name, "%s was never touched by the failed rollout", g.name)
		assert.Empty(t, flRefusedBefore(flManagement(g.audit(t), marks[g.name]), marked), "%s: no login, no push, no change in its audit log", g.name)
		assert.Equal(t, digestA[g.name], g.status(t).Digest, "%s stays on model a", g.name)
		assert.NoError(t, g.dialPLC(2*time.Second), "%s: flows pass", g.name)
	}

	// 7. Every gateway's audit log reached the collector (RFC 5425, the
	// repository's rsyslog snippet), the canary's rollback too.
	for _, g := range gws {
		file := filepath.Join(f.syslog, g.name+".log")
		var text string
		deadline := time.Now().Add(30 * time.Second)
		for {
			b, _ := os.ReadFile(file)
			text = string(b)
			if strings.Contains(text, "model-confirmed") && (g != canary || strings.Contains(text, "model-rolled-back")) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: the collector's %s lacks the rollout's records after 30s:\n%s", g.name, file, mgTail(text, 10))
			}
			time.Sleep(200 * time.Millisecond)
		}
		assert.Contains(t, text, "[zonegate@32473 seq=", "%s: RFC 5424 structured data kept", g.name)
	}

	// 8. Monitoring: Prometheus targets from the same inventory, checked by
	// promtool together with the site config and the rules.
	prom := filepath.Join(f.dir, "prometheus")
	require.NoError(t, os.MkdirAll(filepath.Join(prom, "rules"), 0o700))
	for _, name := range []string{"prometheus.yml", "rules/zonegate.rules.yml"} {
		b, err := os.ReadFile(filepath.Join(f.configs, "monitoring", name))
		require.NoError(t, err)
		mgWrite(t, filepath.Join(prom, name), string(b))
	}
	targets := filepath.Join(prom, "targets", "zonegate.json")
	r = f.play(t, "monitoring.yml", "-e", "zonegate_targets_file="+targets)
	require.Equal(t, 0, r.code, "monitoring play\n%s", r)
	b, err := os.ReadFile(targets)
	require.NoError(t, err)
	for _, g := range gws {
		assert.Contains(t, string(b), fmt.Sprintf(`{"targets": ["%s:9469"], "labels": {"instance": "%s"`, g.mgmtAddr, g.name))
	}
	out, err := exec.Command("promtool", "check", "config", filepath.Join(prom, "prometheus.yml")).CombinedOutput()
	require.NoError(t, err, "promtool check config with the generated targets:\n%s", out)
	assert.NotContains(t, string(out), "WARNING", "the targets file exists and is valid:\n%s", out)
}

// withoutLogout drops the logout records (the modules log out after each
// task) so that the order of the others can be compared.
func withoutLogout(actions []string) []string {
	var out []string
	for _, a := range actions {
		if !strings.HasSuffix(a, ":logout") {
			out = append(out, a)
		}
	}
	return out
}

// modelDigest is the digest `zonegate check` prints for a model file.
func modelDigest(t *testing.T, bin, path string) string {
	t.Helper()
	out, err := exec.Command(bin, "check", path).Output()
	require.NoError(t, err, "zonegate check %s", path)
	i := strings.Index(string(out), "digest ")
	require.GreaterOrEqual(t, i, 0, "%s", out)
	return strings.TrimSpace(string(out[i+len("digest "):]))
}
