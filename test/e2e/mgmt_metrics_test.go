package e2e

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os/exec"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zonegate/zonegate/test/lab"
)

// TestMgmtMetrics runs zonegate serve with metrics.listen on the gateway's
// address in the management zone, scrapes /metrics from the management
// zone's host, sends traffic through the conduit and sees its counter
// move. A host in a zone that is not a management zone cannot reach the
// endpoint: the ruleset drops it.
func TestMgmtMetrics(t *testing.T) {
	mgRequire(t)
	t.Parallel()
	bin := mgBuild(t)
	l := upLab(t, loadModelText(t, mgModelOpen), "zgmtr")
	tr := mgServe(t, l, "ops", "cell", 7000, 7001)
	listen := netip.AddrPortFrom(mgGatewayAddr(t, l, "ops"), 9469)
	d := mgStartDaemon(t, bin, l.Gateway, mgSettings("metrics:", "  listen: "+listen.String()), mgModelBase)

	ops := mtClient(l.Zones["ops"].NS)
	url := "http://" + listen.String() + "/metrics"
	conduit := `zonegate_conduit_packets_total{conduit="ops-to-cell",from="ops",to="cell"}`

	before := mtScrape(t, ops, url)
	for _, name := range []string{"zonegate_build_info", "zonegate_model_info", "zonegate_island", "zonegate_audit_used_ratio",
		"zonegate_drift_checks_total", "zonegate_dropped_packets_total", "go_goroutines", "process_resident_memory_bytes"} {
		assert.Contains(t, before, name, "series in a live scrape")
	}
	assert.Equal(t, dto.MetricType_COUNTER, before["zonegate_conduit_packets_total"].GetType())
	start := mtValue(before, conduit)

	const flows = 3
	for i := range flows {
		require.True(t, tr.passes(7001, mgWait(true)), "flow %d ops -> cell tcp/7001 through the conduit", i)
	}
	after := mtScrape(t, ops, url)
	assert.GreaterOrEqual(t, mtValue(after, conduit), start+flows, "the conduit's counter counts the new flows\n%s", mgTail(d.log.String(), 10))
	assert.Equal(t, `version="1"`, mtLabel(after, "zonegate_model_info", "version"))

	resp, err := ops.Get("http://" + listen.String() + "/")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusNotFound, resp.StatusCode, "only /metrics is served")

	cell := mtClient(l.Zones["cell"].NS)
	cell.Timeout = 2 * time.Second
	if resp, err := cell.Get(url); err == nil {
		resp.Body.Close()
		t.Errorf("a host in zone cell (not a management zone) scraped the gateway: %s", resp.Status)
	}
	// That attempt was dropped by the input chain and counted for zone cell.
	dropped := `zonegate_zone_dropped_packets_total{chain="input",zone="cell"}`
	assert.Positive(t, mtValue(mtScrape(t, ops, url), dropped), "the refused scrape from zone cell is counted in %s", dropped)
}

// TestModbusMetrics scrapes /metrics inside the gateway's namespace
// (127.0.0.1: loopback is always accepted) while Modbus clients hold
// connections through an enforcing and a monitoring conduit: the
// requests by function and verdict, the denials by reason, the open
// connections and the redirected flows show.
func TestModbusMetrics(t *testing.T) {
	mgRequire(t)
	t.Parallel()
	bin := mgBuild(t)
	l := upLab(t, loadModelText(t, mbModel), "zgmtm")
	mbStartGoPLC(t, l.Assets["plc-go"].NS, mbPLCGo+":502")
	mbStartGoPLC(t, l.Assets["plc-mon"].NS, mbPLCMon+":502")
	d := mgStartDaemon(t, bin, l.Gateway, mgSettings("metrics:", "  listen: 127.0.0.1:9469"), mbModel)
	scada := l.Assets["scada"].NS

	enf := mbDial(t, scada, mbPLCGo+":502")
	if pdu, err := enf.do(1, mbReadHR(0, 10)...); err != nil || mbException(pdu) != 0 {
		t.Fatalf("read through conduit enforce-exc: % x %v\n%s", pdu, err, mgTail(d.log.String(), 10))
	}
	mbExpectException(t, "write register 25 through enforce-exc", enf, 2, mbWriteHR(25, 7)...)
	mon := mbDial(t, scada, mbPLCMon+":502")
	if pdu, err := mon.do(1, mbWriteHR(5, 1)...); err != nil || mbException(pdu) != 0 {
		t.Errorf("a write through conduit monitor is forwarded: % x %v", pdu, err)
	}

	mfs := mtScrape(t, mtClient(l.Gateway), "http://127.0.0.1:9469/metrics")
	for series, atLeast := range map[string]float64{
		`zonegate_inspected_requests_total{conduit="enforce-exc",function="3",protocol="modbus",verdict="allowed"}`:               1,
		`zonegate_inspected_requests_total{conduit="enforce-exc",function="6",protocol="modbus",verdict="denied"}`:                1,
		`zonegate_inspected_requests_total{conduit="monitor",function="6",protocol="modbus",verdict="monitored"}`:                 1,
		`zonegate_inspected_denials_total{conduit="enforce-exc",protocol="modbus",reason="address_not_allowed",verdict="denied"}`: 1,
		`zonegate_inspected_denials_total{conduit="monitor",protocol="modbus",reason="function_not_allowed",verdict="monitored"}`: 1,
		`zonegate_inspected_connections{protocol="modbus"}`:                                                                       2,
		`zonegate_conduit_packets_total{conduit="enforce-exc",from="ops",to="plant"}`:                                             1,
		`zonegate_conduit_packets_total{conduit="monitor",from="ops",to="plant"}`:                                                 1,
	} {
		assert.GreaterOrEqual(t, mtValue(mfs, series), atLeast, series)
	}
	if t.Failed() {
		t.Logf("zonegate_inspected_denials_total: %v", mfs["zonegate_inspected_denials_total"])
	}
}

// mtClient is an HTTP client whose connections start in namespace ns.
func mtClient(ns string) *http.Client {
	return &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		DisableKeepAlives: true,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			timeout := 10 * time.Second
			if dl, ok := ctx.Deadline(); ok {
				timeout = time.Until(dl)
			}
			return lab.Dial(ns, network, addr, timeout)
		},
	}}
}

// mtScrape gets and parses /metrics.
func mtScrape(t *testing.T, c *http.Client, url string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := c.Get(url)
	require.NoError(t, err, "scrape %s from the management zone", url)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode, string(body))
	p := expfmt.NewTextParser(model.LegacyValidation)
	mfs, err := p.TextToMetricFamilies(strings.NewReader(string(body)))
	require.NoError(t, err)
	return mfs
}

// mtValue is the value of the series `name{k="v",...}` (0 when absent).
func mtValue(mfs map[string]*dto.MetricFamily, series string) float64 {
	name := series[:strings.IndexByte(series, '{')]
	mf := mfs[name]
	if mf == nil {
		return 0
	}
	for _, m := range mf.Metric {
		var ls []string
		for _, l := range m.Label {
			ls = append(ls, fmt.Sprintf("%s=%q", l.GetName(), l.GetValue()))
		}
		if name+"{"+strings.Join(ls, ",")+"}" == series {
			return m.GetCounter().GetValue() + m.GetGauge().GetValue()
		}
	}
	return 0
}

// mtLabel is `label="value"` of the first series of a family.
func mtLabel(mfs map[string]*dto.MetricFamily, name, label string) string {
	mf := mfs[name]
	if mf == nil || len(mf.Metric) == 0 {
		return ""
	}
	for _, l := range mf.Metric[0].Label {
		if l.GetName() == label {
			return fmt.Sprintf("%s=%q", label, l.GetValue())
		}
	}
	return ""
}

// TestMgmtMetricsBadListen: zonegate serve refuses to start with a
// metrics.listen it cannot use, and says what to change.
func TestMgmtMetricsBadListen(t *testing.T) {
	mgRequire(t)
	t.Parallel()
	bin := mgBuild(t)
	ns := mgNamespace(t, "zgmtb")
	// With lo down, Linux lets a bare namespace bind any address.
	if out, err := exec.Command("ip", "-n", ns, "link", "set", "lo", "up").CombinedOutput(); err != nil {
		t.Fatalf("ip -n %s link set lo up: %v: %s", ns, err, out)
	}
	for listen, want := range map[string]string{
		// In the benchmarking range, on no interface of the namespace.
		"198.19.255.254:9469": "not on any interface of this gateway",
		"localhost:9469":      "not an IP address",
	} {
		dir := mgTempDir(t)
		config := dir + "/zonegate.yaml"
		mgWrite(t, config, mgSettings("metrics:", "  listen: "+listen))
		cmd := lab.Command(ns, bin, "serve", "--config", config, "--state-dir", dir+"/state", "--socket", dir+"/api.sock")
		out, listening := mtRunUntil(t, cmd, `"metrics listening"`)
		if listening {
			t.Errorf("metrics.listen %s: zonegate serve started its metrics server:\n%s", listen, out)
			continue
		}
		assert.Contains(t, out, "metrics.listen", listen)
		assert.Contains(t, out, want, listen)
	}
}

// mtRunUntil runs cmd until it exits or prints a line containing
// marker (then it is killed); it returns the output and whether the
// marker came.
func mtRunUntil(t *testing.T, cmd *exec.Cmd, marker string) (string, bool) {
	t.Helper()
	r, w := io.Pipe()
	cmd.Stdout, cmd.Stderr = w, w
	require.NoError(t, cmd.Start())
	go func() { w.CloseWithError(cmd.Wait()) }()
	var out strings.Builder
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		out.WriteString(sc.Text() + "\n")
		if strings.Contains(sc.Text(), marker) {
			_ = cmd.Process.Kill()
			_, _ = io.Copy(io.Discard, r)
			return out.String(), true
		}
	}
	return out.String(), false
}
