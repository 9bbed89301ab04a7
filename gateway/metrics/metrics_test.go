package metrics

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zonegate/zonegate/gateway/api"
)

var tLast = time.Date(2026, 3, 1, 9, 30, 0, 0, time.UTC)

// fakeSnapshot has every kind of counter the daemon reports.
func fakeSnapshot() Snapshot {
	return Snapshot{
		Status: api.Status{
			Gateway: "line3-gw", Version: 7, Digest: "sha256:abc", Island: true, Pending: &api.Pending{Version: 7, Previous: 6},
			Sessions: 2,
			Counters: []api.Counter{
				{Name: "conduit_scada-to-plc", Packets: 10, Bytes: 600},
				{Name: "conduit_orphan", Packets: 1, Bytes: 60},
				{Name: "dropped_forward", Packets: 5, Bytes: 300},
				{Name: "dropped_input", Packets: 6, Bytes: 360},
				{Name: "dropped_forward_office", Packets: 20, Bytes: 1200},
				{Name: "dropped_input_office", Packets: 2, Bytes: 120},
				{Name: "dropped_forward_control", Packets: 1, Bytes: 60},
				{Name: "invalid", Packets: 3, Bytes: 180},
				{Name: "spoofed_control", Packets: 4, Bytes: 240},
				{Name: "something_new", Packets: 8, Bytes: 480},
			},
			Modbus: []api.ModbusCount{
				{Conduit: "scada-to-plc", Function: 3, Verdict: "allowed", Count: 40},
				{Conduit: "scada-to-plc", Function: 6, Verdict: "denied", Count: 2},
			},
			Audit: &api.AuditStats{Seq: 99, Used: 1 << 20, Capacity: 4 << 20, Lost: 5, LostBestEffort: 1, QueueLen: 3},
			Drift: api.DriftStats{Checks: 120, Detected: 2, Last: tLast},
			ModbusTLS: []api.TLSCertificate{
				{Conduit: "hmi-secure", Kind: "certificate", Subject: "CN=line3-gw", NotAfter: tLast, ExpiresSoon: true},
				{Conduit: "hmi-secure", Kind: "client_ca", Subject: "CN=plant CA", NotAfter: tLast.AddDate(5, 0, 0)},
			},
			TLSSessions: 3,
		},
		Conduits:    []Conduit{{Name: "scada-to-plc", From: "supervisory", To: "control"}},
		Connections: []Connections{{Protocol: "modbus", Open: 4}},
		Denials: []Denial{
			{Protocol: "modbus", Conduit: "scada-to-plc", Reason: "function_not_allowed", Count: 2},
			{Protocol: "modbus", Conduit: "scada-to-plc", Reason: "function_not_allowed", Count: 1},
			{Protocol: "modbus", Conduit: "scada-to-plc", Reason: "value_not_allowed", Monitor: true, Count: 7},
		},
	}
}

var tBuild = Build{Version: "1.2.3", Commit: "0123456789ab", GoVersion: "go1.24.9"}

// testServer serves src on a loopback listener wrapped to see when the
// server closes its connections.
func testServer(t *testing.T, cfg Config) (*Server, *trackListener) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	tl := &trackListener{Listener: ln, accepted: make(chan *trackConn, 64)}
	s := Serve(tl, cfg)
	t.Cleanup(func() { s.Close() })
	return s, tl
}

func get(t *testing.T, s *Server, path string) (int, string) {
	t.Helper()
	resp, err := http.Get("http://" + s.Addr().String() + path)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b)
}

func parse(t *testing.T, text string) map[string]*dto.MetricFamily {
	t.Helper()
	p := expfmt.NewTextParser(model.LegacyValidation)
	mfs, err := p.TextToMetricFamilies(strings.NewReader(text))
	require.NoError(t, err, "the scrape does not parse as the Prometheus text format:\n%s", text)
	return mfs
}

// series returns "name{k=v,...} value" of a family, sorted.
func series(mf *dto.MetricFamily) []string {
	var out []string
	for _, m := range mf.Metric {
		var ls []string
		for _, l := range m.Label {
			ls = append(ls, l.GetName()+"="+l.GetValue())
		}
		var v float64
		switch mf.GetType() {
		case dto.MetricType_COUNTER:
			v = m.GetCounter().GetValue()
		case dto.MetricType_GAUGE:
			v = m.GetGauge().GetValue()
		}
		out = append(out, fmt.Sprintf("%s{%s} %g", mf.GetName(), strings.Join(ls, ","), v))
	}
	sort.Strings(out)
	return out
}

func TestScrapeCarriesEverySeries(t *testing.T) {
	s, _ := testServer(t, Config{Source: func() (Snapshot, error) { return fakeSnapshot(), nil }, Build: tBuild})
	code, body := get(t, s, Path)
	require.Equal(t, http.StatusOK, code, body)
	mfs := parse(t, body)

	C, G := dto.MetricType_COUNTER, dto.MetricType_GAUGE
	for _, want := range []struct {
		name   string
		typ    dto.MetricType
		series []string
	}{
		{"zonegate_conduit_packets_total", C, []string{
			"zonegate_conduit_packets_total{conduit=orphan,from=,to=} 1",
			"zonegate_conduit_packets_total{conduit=scada-to-plc,from=supervisory,to=control} 10"}},
		{"zonegate_conduit_bytes_total", C, []string{
			"zonegate_conduit_bytes_total{conduit=orphan,from=,to=} 60",
			"zonegate_conduit_bytes_total{conduit=scada-to-plc,from=supervisory,to=control} 600"}},
		{"zonegate_zone_spoofed_packets_total", C, []string{"zonegate_zone_spoofed_packets_total{zone=control} 4"}},
		{"zonegate_zone_spoofed_bytes_total", C, []string{"zonegate_zone_spoofed_bytes_total{zone=control} 240"}},
		// The chain totals add the zones' counters to the no-zone counter.
		{"zonegate_dropped_packets_total", C, []string{
			"zonegate_dropped_packets_total{chain=forward} 26", "zonegate_dropped_packets_total{chain=input} 8"}},
		{"zonegate_dropped_bytes_total", C, []string{
			"zonegate_dropped_bytes_total{chain=forward} 1560", "zonegate_dropped_bytes_total{chain=input} 480"}},
		{"zonegate_zone_dropped_packets_total", C, []string{
			"zonegate_zone_dropped_packets_total{chain=forward,zone=control} 1",
			"zonegate_zone_dropped_packets_total{chain=forward,zone=office} 20",
			"zonegate_zone_dropped_packets_total{chain=input,zone=office} 2"}},
		{"zonegate_zone_dropped_bytes_total", C, []string{
			"zonegate_zone_dropped_bytes_total{chain=forward,zone=control} 60",
			"zonegate_zone_dropped_bytes_total{chain=forward,zone=office} 1200",
			"zonegate_zone_dropped_bytes_total{chain=input,zone=office} 120"}},
		{"zonegate_invalid_packets_total", C, []string{"zonegate_invalid_packets_total{} 3"}},
		{"zonegate_ruleset_counter_packets_total", C, []string{"zonegate_ruleset_counter_packets_total{counter=something_new} 8"}},
		{"zonegate_ruleset_counter_bytes_total", C, []string{"zonegate_ruleset_counter_bytes_total{counter=something_new} 480"}},
		{"zonegate_inspected_requests_total", C, []string{
			"zonegate_inspected_requests_total{conduit=scada-to-plc,function=3,protocol=modbus,verdict=allowed} 40",
			"zonegate_inspected_requests_total{conduit=scada-to-plc,function=6,protocol=modbus,verdict=denied} 2"}},
		{"zonegate_inspected_denials_total", C, []string{
			"zonegate_inspected_denials_total{conduit=scada-to-plc,protocol=modbus,reason=function_not_allowed,verdict=denied} 3",
			"zonegate_inspected_denials_total{conduit=scada-to-plc,protocol=modbus,reason=value_not_allowed,verdict=monitored} 7"}},
		{"zonegate_inspected_connections", G, []string{"zonegate_inspected_connections{protocol=modbus} 4"}},
		{"zonegate_audit_available", G, []string{"zonegate_audit_available{} 1"}},
		{"zonegate_audit_used_ratio", G, []string{"zonegate_audit_used_ratio{} 0.25"}},
		{"zonegate_audit_used_bytes", G, []string{"zonegate_audit_used_bytes{} 1.048576e+06"}},
		{"zonegate_audit_capacity_bytes", G, []string{"zonegate_audit_capacity_bytes{} 4.194304e+06"}},
		{"zonegate_audit_full", G, []string{"zonegate_audit_full{} 0"}},
		{"zonegate_audit_records_lost_total", C, []string{
			"zonegate_audit_records_lost_total{cause=best_effort} 1",
			"zonegate_audit_records_lost_total{cause=data_plane_budget} 0", "zonegate_audit_records_lost_total{cause=data_plane_queue} 5"}},
		{"zonegate_audit_queued_records", G, []string{"zonegate_audit_queued_records{} 3"}},
		{"zonegate_audit_sequence", G, []string{"zonegate_audit_sequence{} 99"}},
		{"zonegate_drift_checks_total", C, []string{"zonegate_drift_checks_total{} 120"}},
		{"zonegate_drift_detected_total", C, []string{"zonegate_drift_detected_total{} 2"}},
		{"zonegate_drift_last_detected_timestamp_seconds", G, []string{fmt.Sprintf("zonegate_drift_last_detected_timestamp_seconds{} %g", float64(tLast.Unix()))}},
		{"zonegate_island", G, []string{"zonegate_island{} 1"}},
		{"zonegate_change_pending", G, []string{"zonegate_change_pending{} 1"}},
		{"zonegate_api_sessions", G, []string{"zonegate_api_sessions{} 2"}},
		{"zonegate_modbus_tls_certificate_not_after_timestamp_seconds", G, []string{
			fmt.Sprintf("zonegate_modbus_tls_certificate_not_after_timestamp_seconds{conduit=hmi-secure,kind=certificate,subject=CN=line3-gw} %g", float64(tLast.Unix())),
			fmt.Sprintf("zonegate_modbus_tls_certificate_not_after_timestamp_seconds{conduit=hmi-secure,kind=client_ca,subject=CN=plant CA} %g", float64(tLast.AddDate(5, 0, 0).Unix()))}},
		{"zonegate_modbus_tls_certificates_expiring", G, []string{"zonegate_modbus_tls_certificates_expiring{} 1"}},
		{"zonegate_modbus_tls_sessions", G, []string{"zonegate_modbus_tls_sessions{} 3"}},
		{"zonegate_model_info", G, []string{"zonegate_model_info{digest=sha256:abc,gateway=line3-gw,version=7} 1"}},
		{"zonegate_build_info", G, []string{"zonegate_build_info{commit=0123456789ab,goversion=go1.24.9,version=1.2.3} 1"}},
	} {
		mf := mfs[want.name]
		if !assert.NotNil(t, mf, "series %s missing", want.name) {
			continue
		}
		assert.Equal(t, want.typ, mf.GetType(), want.name)
		assert.NotEmpty(t, mf.GetHelp(), want.name)
		assert.Equal(t, want.series, series(mf))
	}
	for _, std := range []string{"go_goroutines", "go_memstats_alloc_bytes", "process_resident_memory_bytes", "process_open_fds"} {
		assert.Contains(t, mfs, std, "standard Go/process collector series")
	}
	for name := range mfs {
		if strings.HasPrefix(name, "zonegate_") && mfs[name].GetType() == dto.MetricType_COUNTER {
			assert.True(t, strings.HasSuffix(name, "_total"), "counter %s must end in _total", name)
		}
	}
}

func TestScrapeWithoutModelOrAudit(t *testing.T) {
	s, _ := testServer(t, Config{Source: func() (Snapshot, error) {
		return Snapshot{Status: api.Status{Counters: []api.Counter{{Name: "dropped_forward", Packets: 1}}}}, nil
	}, Build: tBuild})
	code, body := get(t, s, Path)
	require.Equal(t, http.StatusOK, code, body)
	mfs := parse(t, body)
	assert.NotContains(t, mfs, "zonegate_model_info", "no model runs")
	assert.NotContains(t, mfs, "zonegate_audit_used_ratio")
	assert.NotContains(t, mfs, "zonegate_drift_last_detected_timestamp_seconds")
	assert.Equal(t, []string{"zonegate_audit_available{} 0"}, series(mfs["zonegate_audit_available"]))
	assert.Equal(t, []string{"zonegate_island{} 0"}, series(mfs["zonegate_island"]))
}

func TestSourceErrorServesWhatWasRead(t *testing.T) {
	s, _ := testServer(t, Config{Source: func() (Snapshot, error) {
		return Snapshot{Status: api.Status{Version: 3, Digest: "sha256:d", Gateway: "gw"}}, errors.New("read counters: netlink says no")
	}, Build: tBuild})
	code, body := get(t, s, Path)
	require.Equal(t, http.StatusOK, code, body)
	mfs := parse(t, body)
	assert.Contains(t, mfs, "zonegate_build_info")
	assert.Contains(t, mfs, "zonegate_island")
	assert.NotContains(t, mfs, "zonegate_audit_available", "unknown while the source failed")
}

func TestOnlyMetricsPath(t *testing.T) {
	s, _ := testServer(t, Config{Source: func() (Snapshot, error) { return fakeSnapshot(), nil }})
	for _, p := range []string{"/", "/metrics/", "/metricsx", "/debug/pprof/", "/v1/status"} {
		code, _ := get(t, s, p)
		assert.Equal(t, http.StatusNotFound, code, p)
	}
	resp, err := http.Post("http://"+s.Addr().String()+Path, "text/plain", strings.NewReader("x"))
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusMethodNotAllowed, resp.StatusCode)
}

func TestCheckListen(t *testing.T) {
	for _, ok := range []string{"198.18.60.1:9469", "[fd00:60::1]:9469", ":9469", "[::]:9469"} {
		assert.NoError(t, CheckListen(ok), ok)
	}
	for addr, want := range map[string]string{
		"198.18.60.1":           "is not ADDRESS:PORT",
		"gateway.example:9469":  "not an IP address",
		"198.18.60.1:0":         "port must be 1-65535",
		"198.18.60.1:http":      "port must be 1-65535",
		"198.18.60.1:70000":     "port must be 1-65535",
		"fd00:60::1:9469":       "is not ADDRESS:PORT",
		"198.18.60.1:9469:9470": "is not ADDRESS:PORT",
	} {
		err := CheckListen(addr)
		if assert.Error(t, err, addr) {
			assert.Contains(t, err.Error(), want, addr)
			assert.Contains(t, err.Error(), "metrics.listen", addr)
		}
	}
}

func TestListenSaysWhatToDo(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer busy.Close()
	_, err = Listen(busy.Addr().String())
	require.Error(t, err)
	assert.Contains(t, err.Error(), "pick a free port for metrics.listen")

	// 198.19.255.254 is in the benchmarking range, on no interface of the
	// test machine's namespace: nothing is sent, the bind fails.
	_, err = Listen("198.19.255.254:9469")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "not on any interface of this gateway")
}

// bigSnapshot has n conduits: its scrape is megabytes, more than the
// socket buffers take, so a client that does not read stalls the server's
// write.
func bigSnapshot(n int) Snapshot {
	s := Snapshot{}
	for i := range n {
		name := fmt.Sprintf("conduit-number-%06d", i)
		s.Status.Counters = append(s.Status.Counters, api.Counter{Name: "conduit_" + name, Packets: uint64(i), Bytes: uint64(i) * 60})
		s.Conduits = append(s.Conduits, Conduit{Name: name, From: "zone-a", To: "zone-b"})
	}
	return s
}

// slowSource is a fake counter source whose snapshot is taken under a
// lock, as the data path's counters are; it records how many snapshots
// were started and finished.
type slowSource struct {
	dataPath          sync.Mutex
	started, finished atomic.Int64
	first             Snapshot // returned by the first call
	rest              Snapshot
}

func (s *slowSource) snapshot() (Snapshot, error) {
	n := s.started.Add(1)
	defer s.finished.Add(1)
	s.dataPath.Lock()
	defer s.dataPath.Unlock()
	if n == 1 {
		return s.first, nil
	}
	return s.rest, nil
}

// stallingDial connects with a tiny receive buffer.
func stallingDial(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	require.NoError(t, c.(*net.TCPConn).SetReadBuffer(1024))
	t.Cleanup(func() { c.Close() })
	return c
}

// drip sends a request line byte by byte and never ends the headers,
// until the connection fails or stop closes.
func drip(c net.Conn, stop <-chan struct{}) {
	req := "GET /metrics HTTP/1.1\r\nHost: x\r\nX-Slow: " + strings.Repeat("a", 1000)
	for i := 0; ; i++ {
		select {
		case <-stop:
			return
		case <-time.After(5 * time.Millisecond):
		}
		if _, err := c.Write([]byte{req[i%len(req)]}); err != nil {
			return
		}
	}
}

// waitFor polls cond; it fails the test only when cond never holds (a
// hang guard, not a speed requirement).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("still waiting for %s after a minute", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// TestSlowScrapersHoldNothing: a scraper that drips its headers and one
// that never reads its answer hold a connection each, but neither holds
// the counters: the snapshot is finished before the answer is written,
// the data path's lock is free and another scraper is served. Timeouts
// long enough not to fire during this subtest.
func TestSlowScrapersHoldNothing(t *testing.T) {
	src := &slowSource{first: bigSnapshot(40000), rest: fakeSnapshot()}
	s, tl := testServer(t, Config{Source: src.snapshot, ReadHeaderTimeout: time.Minute, WriteTimeout: time.Minute})

	stop := make(chan struct{})
	defer close(stop)
	dripper := stallingDial(t, s.Addr().String())
	go drip(dripper, stop)
	dripConn := tl.next(t)

	reader := stallingDial(t, s.Addr().String())
	_, err := io.WriteString(reader, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
	require.NoError(t, err)
	readerConn := tl.next(t)

	// The non-reading scraper's snapshot is taken and done: what remains
	// is writing megabytes it does not take.
	waitFor(t, "the stalled scrape's snapshot", func() bool { return src.finished.Load() == 1 })
	assert.True(t, src.dataPath.TryLock(), "the data path's lock is free while the scrapers stall")
	src.dataPath.Unlock()

	code, body := get(t, s, Path)
	assert.Equal(t, http.StatusOK, code)
	mfs := parse(t, body)
	assert.Contains(t, mfs, "zonegate_inspected_requests_total", "a concurrent scrape is served in full")
	assert.False(t, dripConn.isClosed(), "ordering: the dripping scraper is still connected")
	assert.False(t, readerConn.isClosed(), "ordering: the non-reading scraper is still connected")
}

// TestSlowScrapersAreClosed: with short timeouts the server closes both
// kinds of slow scraper by itself; the non-reading one never gets the
// whole answer.
func TestSlowScrapersAreClosed(t *testing.T) {
	src := &slowSource{first: bigSnapshot(40000), rest: fakeSnapshot()}
	s, tl := testServer(t, Config{Source: src.snapshot, ReadHeaderTimeout: 200 * time.Millisecond, WriteTimeout: 200 * time.Millisecond})

	reader := stallingDial(t, s.Addr().String())
	_, err := io.WriteString(reader, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
	require.NoError(t, err)
	readerConn := tl.next(t)

	stop := make(chan struct{})
	defer close(stop)
	dripper := stallingDial(t, s.Addr().String())
	go drip(dripper, stop)
	dripConn := tl.next(t)

	waitFor(t, "the server to close the dripping scraper", dripConn.isClosed)
	waitFor(t, "the server to close the non-reading scraper", readerConn.isClosed)

	// The server closed the non-reading scraper's connection while the
	// scraper had taken at most its tiny receive buffer of megabytes: the
	// answer was cut off. (Reading the rest now would only drain the
	// kernel's send buffer through a 1 KiB window.)
	reader.Close()

	// The dripping scraper got no answer, at most an error status.
	buf := make([]byte, 4096)
	got, _ := io.ReadFull(dripper, buf)
	assert.NotContains(t, string(buf[:got]), "zonegate_", "no metrics for a request whose headers never ended")
	assert.Equal(t, int64(1), src.started.Load(), "no snapshot for the dripping scraper")
}

// trackListener hands out connections that record when the server closes
// them.
type trackListener struct {
	net.Listener
	accepted chan *trackConn
}

func (l *trackListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	tc := &trackConn{Conn: c, closed: make(chan struct{})}
	select {
	case l.accepted <- tc:
	default:
	}
	return tc, nil
}

// next returns the next connection the server accepted.
func (l *trackListener) next(t *testing.T) *trackConn {
	t.Helper()
	select {
	case c := <-l.accepted:
		return c
	case <-time.After(time.Minute):
		t.Fatal("the server accepted no connection within a minute")
		return nil
	}
}

type trackConn struct {
	net.Conn
	once   sync.Once
	closed chan struct{}
}

func (c *trackConn) Close() error {
	c.once.Do(func() { close(c.closed) })
	return c.Conn.Close()
}

func (c *trackConn) isClosed() bool {
	select {
	case <-c.closed:
		return true
	default:
		return false
	}
}
