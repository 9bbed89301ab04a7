package e2e

import (
	"encoding/json"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zonegate/zonegate/gateway/api"
	"github.com/zonegate/zonegate/test/lab"
)

// obModel: "office" (a client zone) reaches the PLC zone "cell" only on
// Modbus, inspected, reads of holding registers 0-9 and writes of 10-19,
// and udp/123 (which
// gives the lab a spoofed-source case); "ops" manages the gateway.
const obModel = `version: 1
gateway:
  name: obs-gw
  management:
    zones: [ops]
zones:
  - name: ops
    importance: medium
    interfaces: [eth0]
    networks: [198.18.21.0/24]
  - name: office
    importance: low
    interfaces: [eth1]
    networks: [198.18.22.0/24]
  - name: cell
    importance: high
    interfaces: [eth2]
    networks: [198.18.23.0/24]
conduits:
  - name: office-to-cell
    from: office
    to: cell
    services: [tcp/502]
    inspect: modbus
    modbus:
      allow:
        - read: holding_registers
          addresses: 0-9
        - write: holding_registers
          addresses: 10-19
  - name: office-time
    from: office
    to: cell
    services: [udp/123]
`

// TestObserveFloodAndDrops: a forged source address is reported as a
// spoofed source of its ingress zone. A flood of denied Modbus requests from a
// client zone (4 pipelining connections, 20 s at full speed, as measured
// when it filled a 4 MiB audit log and locked the administrators out)
// leaves `zonegate island on` working and the audit log within its
// data-plane share, with one aggregated record per interval for the
// source and conduit. A blocked telnet attempt from office to cell shows
// up as an event naming source, destination and port 23, in `zonegate
// events --json` and in the audit log.
func TestObserveFloodAndDrops(t *testing.T) {
	mgRequire(t)
	bin := mgBuild(t)
	l := upLab(t, loadModelText(t, obModel), "zgob1")
	office, cell := l.Zones["office"], l.Zones["cell"]
	officeAddr, ok := office.Addr(4)
	require.True(t, ok)
	cellAddr, ok := cell.Addr(4)
	require.True(t, ok)
	mbStartGoPLC(t, cell.NS, netip.AddrPortFrom(cellAddr, 502).String())

	d := mgStartDaemon(t, bin, l.Gateway, mgSettings("audit:", "  max_size: 2MiB", "events:", "  interval: 2s"), obModel)
	d.initAdmin(t)
	d.addUser(t, "vera", "viewer", mgViewerPW)
	before := d.status(t, "vera").Audit
	require.NotNil(t, before)

	// Telnet from office to cell: dropped by the forward chain.
	_, err := lab.Dial(office.NS, "tcp", netip.AddrPortFrom(cellAddr, 23).String(), time.Second)
	require.Error(t, err, "tcp/23 office -> cell must be dropped")
	telnet := obWaitEvent(t, d, func(ev api.Event) bool {
		return ev.Kind == "dropped-flow" && strings.HasSuffix(ev.Destination, ":23")
	})
	assert.Equal(t, officeAddr.String(), telnet.Source)
	assert.Equal(t, netip.AddrPortFrom(cellAddr, 23).String(), telnet.Destination)
	assert.Equal(t, "23", telnet.Ports)
	assert.Equal(t, "tcp", telnet.Protocol)
	assert.Equal(t, "office", telnet.Zone)
	assert.Equal(t, "eth1", telnet.Interface)
	assert.Equal(t, "forward", telnet.Chain)
	assert.NotZero(t, telnet.Count)

	// A forged source address from office (one of cell's): dropped by
	// anti-spoofing, reported as a spoofed source in office.
	var forged []lab.Case
	for _, c := range l.Cases() {
		if c.Spoofed && c.From == "office" && c.SrcAddr.Is4() {
			forged = append(forged, c)
		}
	}
	require.NotEmpty(t, forged, "the lab yields spoofed-source cases from office")
	_, err = l.Probe(t.Context(), forged[:1], lab.ProbeOptions{SkipInspect: true})
	require.NoError(t, err)
	spoofed := obWaitEvent(t, d, func(ev api.Event) bool { return ev.Kind == "spoofed" })
	assert.Equal(t, forged[0].SrcAddr.String(), spoofed.Source)
	assert.Equal(t, "office", spoofed.Zone)
	assert.Equal(t, "spoofed", spoofed.Chain)

	// The flood.
	denied := obFlood(t, office.NS, netip.AddrPortFrom(cellAddr, 502).String(), 4, 20*time.Second, mbWriteHR(50, 1), obDenied)
	t.Logf("flood: %d denied requests answered in 20 s", denied)
	require.Greater(t, denied, uint64(10000), "the flood must be a flood")

	// Island mode, an emergency measure, still works.
	out := d.mustCLI(t, "admin", "", "island", "on")
	t.Logf("island on: %s", strings.TrimSpace(out))
	d.mustCLI(t, "admin", "", "island", "off")

	// Wait for the flood's last aggregate, then look at the log's size.
	flood := obWaitEvent(t, d, func(ev api.Event) bool { return ev.Kind == "denied" && ev.Conduit == "office-to-cell" })
	assert.Equal(t, officeAddr.String(), flood.Source)
	time.Sleep(5 * time.Second) // two intervals: everything flushed
	after := d.status(t, "vera").Audit
	require.NotNil(t, after)
	assert.False(t, after.Full)
	assert.LessOrEqual(t, after.DataPlaneUsed, after.DataPlaneLimit, "the audit log stays within its data-plane share")
	assert.Less(t, after.Used, after.Capacity/2)
	grown := after.Used - before.Used
	t.Logf("audit log: %d bytes before, %d after (grew %d); data-plane records %d bytes, limit %d, dropped %d",
		before.Used, after.Used, grown, after.DataPlaneUsed, after.DataPlaneLimit, after.DataPlaneDropped)
	assert.Less(t, grown, int64(64<<10), "one source, one conduit: under 64 KiB for a 20 s flood")

	logText := d.log.String()
	denyLines := strings.Count(logText, `"modbus denied"`)
	t.Logf("daemon log: %d bytes in all, %d `modbus denied` lines", len(logText), denyLines)
	assert.Less(t, denyLines, 50, "the daemon log is aggregated: one line per source and interval")

	// Allowed writes are recorded one by one: a flood of them fills the
	// data-plane share, and no more; changes are still accepted.
	writes := obFlood(t, office.NS, netip.AddrPortFrom(cellAddr, 502).String(), 4, 5*time.Second, mbWriteHR(10, 7), obWritten)
	require.Greater(t, writes, uint64(1000))
	st := d.waitStatus(t, "vera", "data-plane records dropped beyond the share", 30*time.Second, func(st api.Status) bool {
		return st.Audit != nil && st.Audit.DataPlaneDropped > 0
	})
	t.Logf("write flood: %d allowed writes in 5 s; audit log %d of %d bytes, data-plane records %d bytes (limit %d), %d dropped",
		writes, st.Audit.Used, st.Audit.Capacity, st.Audit.DataPlaneUsed, st.Audit.DataPlaneLimit, st.Audit.DataPlaneDropped)
	assert.LessOrEqual(t, st.Audit.DataPlaneUsed, st.Audit.DataPlaneLimit)
	assert.False(t, st.Audit.Full)
	d.mustCLI(t, "admin", "", "island", "on")
	d.mustCLI(t, "admin", "", "island", "off")

	d.stop(t)
	mgAuditVerify(t, bin, d.AuditDir())
	recs := mgAuditShow(t, bin, d.AuditDir())
	var counted uint64
	var floodRecs, telnetRecs, spoofRecs, droppedRecs, writeRecs int
	for _, r := range recs {
		switch {
		case r.Category == "inspection" && r.Action == "request-denied" && r.Details["conduit"] == "office-to-cell":
			floodRecs++
			assert.Equal(t, officeAddr.String(), r.Actor)
			n, err := strconv.ParseUint(r.Details["count"], 10, 64)
			require.NoError(t, err)
			counted += n
			assert.Contains(t, r.Details["sample"], "fc 6")
		case r.Category == "inspection" && r.Action == "write-allowed":
			writeRecs++
		case r.Category == "audit" && r.Action == "data-plane-dropped":
			droppedRecs++
		case r.Category == "network" && r.Action == "spoofed-source":
			spoofRecs++
			assert.Equal(t, forged[0].SrcAddr.String(), r.Actor)
		case r.Category == "network" && r.Action == "flow-dropped" && r.Details["ports"] == "23":
			telnetRecs++
			assert.Equal(t, officeAddr.String(), r.Actor)
			assert.Equal(t, netip.AddrPortFrom(cellAddr, 23).String(), r.Object)
			assert.Equal(t, "office", r.Details["zone"])
		}
	}
	t.Logf("audit: %d request-denied records counting %d requests; %d flow-dropped records for tcp/23; %d write-allowed, %d data-plane-dropped",
		floodRecs, counted, telnetRecs, writeRecs, droppedRecs)
	assert.GreaterOrEqual(t, counted, denied, "every denied request is counted")
	assert.LessOrEqual(t, floodRecs, 20, "about one record per 2 s interval")
	assert.NotZero(t, telnetRecs)
	assert.NotZero(t, spoofRecs)
	assert.NotZero(t, droppedRecs, "the dropped writes are counted in the log")
	mgAuditExpect(t, recs, mgWant{Category: "config", Action: "island-mode", Actor: "admin", Result: "success", Detail: [2]string{"state", "on"}})
}

// obWaitEvent polls `zonegate events --json` (as the viewer) until an
// event matches.
func obWaitEvent(t *testing.T, d *mgDaemon, match func(api.Event) bool) api.Event {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		out := d.mustCLI(t, "vera", "", "events", "--json")
		for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
			if line == "" {
				continue
			}
			var ev api.Event
			require.NoError(t, json.Unmarshal([]byte(line), &ev), line)
			if match(ev) {
				return ev
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no matching event within 30s; events:\n%s\ndaemon log:\n%s", out, mgTail(d.log.String(), 30))
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// obDenied matches the exception answer to a denied FC 6 request.
func obDenied(resp []byte) bool { return resp[7] == 0x86 }

// obWritten matches the normal answer to an FC 6 write.
func obWritten(resp []byte) bool { return resp[7] == 0x06 }

// obFlood sends one request PDU as fast as the proxy answers, on conns
// pipelining connections from ns, for d. It returns how many answers
// matched ok (answers are 9 bytes for exceptions, 12 for FC 6).
func obFlood(t *testing.T, ns, addr string, conns int, d time.Duration, pdu []byte, ok func([]byte) bool) uint64 {
	t.Helper()
	var answered atomic.Uint64
	var wg sync.WaitGroup
	stop := time.Now().Add(d)
	for range conns {
		c, err := lab.Dial(ns, "tcp", addr, 3*time.Second)
		require.NoError(t, err)
		wg.Add(2)
		batch := make([]byte, 0, 64*12)
		for i := range 64 {
			batch = append(batch, mbFrame(uint16(i), 1, pdu...)...)
		}
		go func() { // writer
			defer wg.Done()
			for time.Now().Before(stop) {
				if _, err := c.Write(batch); err != nil {
					return
				}
			}
			c.(*net.TCPConn).CloseWrite()
		}()
		go func() { // reader
			defer wg.Done()
			defer c.Close()
			for {
				_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
				f, err := mbReadFrame(c)
				if err != nil {
					return
				}
				if ok(f) {
					answered.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	return answered.Load()
}
