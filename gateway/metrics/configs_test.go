package metrics

import (
	"encoding/json"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"
)

// descNames are the names of zonegate's own series.
func descNames() map[string]bool {
	out := map[string]bool{}
	re := regexp.MustCompile(`fqName: "([a-z_]+)"`)
	for _, d := range allDescs {
		out[re.FindStringSubmatch(d.String())[1]] = true
	}
	return out
}

// TestExampleConfigsUseRealSeries: the dashboard is valid JSON and every
// zonegate_ series it queries exists; the scrape config is valid YAML and
// scrapes Path.
func TestExampleConfigsUseRealSeries(t *testing.T) {
	b, err := os.ReadFile("../../configs/grafana-zonegate.json")
	require.NoError(t, err)
	var dash struct {
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	require.NoError(t, json.Unmarshal(b, &dash))
	names := descNames()
	require.Contains(t, names, "zonegate_conduit_packets_total")
	used := 0
	for _, p := range dash.Panels {
		for _, tg := range p.Targets {
			for _, n := range regexp.MustCompile(`zonegate_[a-z_]+`).FindAllString(tg.Expr, -1) {
				used++
				assert.True(t, names[n], "panel %q queries %s, which zonegate does not export", p.Title, n)
			}
		}
	}
	assert.NotZero(t, used)

	b, err = os.ReadFile("../../configs/prometheus.yml")
	require.NoError(t, err)
	var prom struct {
		ScrapeConfigs []struct {
			MetricsPath   string `yaml:"metrics_path"`
			StaticConfigs []struct {
				Targets []string `yaml:"targets"`
			} `yaml:"static_configs"`
		} `yaml:"scrape_configs"`
	}
	require.NoError(t, yaml.Unmarshal(b, &prom))
	require.NotEmpty(t, prom.ScrapeConfigs)
	assert.Equal(t, Path, prom.ScrapeConfigs[0].MetricsPath)
	for _, sc := range prom.ScrapeConfigs[0].StaticConfigs {
		for _, target := range sc.Targets {
			assert.NoError(t, CheckListen(target), "a target is a metrics.listen address")
		}
	}
	settings, err := os.ReadFile("../../configs/zonegate.yaml")
	require.NoError(t, err)
	assert.True(t, strings.Contains(string(settings), "\nmetrics:\n"), "configs/zonegate.yaml documents metrics.listen")
}
