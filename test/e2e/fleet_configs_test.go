package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zonegate/zonegate/test/prereq"
)

// The fleet files of configs/ansible checked by the tools that read them:
// Ansible (syntax, lint, module documentation), Prometheus (site config
// with the targets the monitoring playbook writes from the example
// inventory, alert rules and their unit tests). No root needed.

// flConfigsEnv runs Ansible tools on configs/ansible with a home of their
// own (caches, temporary files). The temporary directories are named
// outright: for the local connection Ansible expands "~" from the user's
// passwd entry, not from HOME, and an unprivileged test user's home
// (nobody's /nonexistent under make test-arm64) may not exist.
func flConfigsEnv(t *testing.T, configs string) []string {
	home := t.TempDir()
	return append(os.Environ(), "HOME="+home, "ANSIBLE_CONFIG="+filepath.Join(configs, "ansible.cfg"),
		"ANSIBLE_LOCAL_TEMP="+filepath.Join(home, "tmp"), "ANSIBLE_REMOTE_TMP="+filepath.Join(home, "remote-tmp"),
		"ANSIBLE_NOCOLOR=1", "NO_COLOR=1")
}

func flTool(t *testing.T, dir string, env []string, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir, cmd.Env = dir, env
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s %s:\n%s", name, strings.Join(args, " "), out)
	return string(out)
}

func TestFleetPlaybooksLint(t *testing.T) {
	playbook := prereq.Command(t, "ansible-playbook", "ansible-core")
	lint := prereq.Command(t, "ansible-lint", "ansible-lint")
	doc := prereq.Command(t, "ansible-doc", "ansible-core")
	configs := repoFile(t, "configs/ansible")
	env := flConfigsEnv(t, configs)
	books, err := filepath.Glob(filepath.Join(configs, "playbooks", "*.yml"))
	require.NoError(t, err)
	require.Len(t, books, 4, "rollout, accounts, settings, monitoring")
	for _, b := range books {
		flTool(t, configs, env, playbook, "--syntax-check", b)
	}
	out := flTool(t, configs, env, lint, "--offline", "playbooks", "collections/ansible_collections/zonegate/gateway")
	assert.Contains(t, out, "Passed with production profile", "ansible-lint's strictest profile")
	for _, m := range []string{"zonegate_model", "zonegate_user"} {
		out := flTool(t, configs, env, doc, "-t", "module", "zonegate.gateway."+m)
		assert.Contains(t, out, "login_password", "%s documents its options", m)
	}
}

func TestFleetMonitoringConfigs(t *testing.T) {
	promtool := prereq.Command(t, "promtool", "prometheus")
	playbook := prereq.Command(t, "ansible-playbook", "ansible-core")
	configs := repoFile(t, "configs/ansible")
	mon := filepath.Join(configs, "monitoring")

	// The site config with targets written from the example inventory,
	// in a copy (the repository keeps no generated targets).
	site := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(site, "rules"), 0o755))
	for _, name := range []string{"prometheus.yml", "rules/zonegate.rules.yml"} {
		b, err := os.ReadFile(filepath.Join(mon, name))
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(site, name), b, 0o644))
	}
	targets := filepath.Join(site, "targets", "zonegate.json")
	flTool(t, configs, flConfigsEnv(t, configs), playbook, "playbooks/monitoring.yml", "-e", "zonegate_targets_file="+targets)
	b, err := os.ReadFile(targets)
	require.NoError(t, err)
	assert.Contains(t, string(b), `{"targets": ["198.18.60.12:9469"], "labels": {"instance": "line2-gw", "line": "line2", "site": "plant-1"}}`)
	assert.Equal(t, 4, strings.Count(string(b), `"targets"`), "every gateway of the example inventory:\n%s", b)
	out := flTool(t, site, nil, promtool, "check", "config", "prometheus.yml")
	assert.NotContains(t, out, "WARNING", "the targets file is there and valid")
	assert.Contains(t, out, "SUCCESS: 1 rule files found")

	out = flTool(t, mon, nil, promtool, "check", "rules", "rules/zonegate.rules.yml")
	assert.Contains(t, out, "SUCCESS: 9 rules found")
	out = flTool(t, mon, nil, promtool, "test", "rules", "tests/zonegate.rules.test.yml")
	assert.Contains(t, out, "SUCCESS")
}

// TestFleetAlertsUseExportedMetrics: every zonegate_ series the alert
// rules name is one the daemon exports (gateway/metrics).
func TestFleetAlertsUseExportedMetrics(t *testing.T) {
	rules, err := os.ReadFile(repoFile(t, "configs/ansible/monitoring/rules/zonegate.rules.yml"))
	require.NoError(t, err)
	src, err := os.ReadFile(repoFile(t, "gateway/metrics/collector.go"))
	require.NoError(t, err)
	seen := 0
	for _, f := range strings.FieldsFunc(string(rules), func(r rune) bool {
		return !(r == '_' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9')
	}) {
		if strings.HasPrefix(f, "zonegate_") {
			seen++
			assert.Contains(t, string(src), `"`+f+`"`, "the rules use %s: gateway/metrics exports no such series", f)
		}
	}
	assert.Greater(t, seen, 8)
}
