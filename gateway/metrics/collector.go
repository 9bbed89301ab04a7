// Package metrics serves zonegate's counters to Prometheus: a plain HTTP
// endpoint, /metrics and nothing else, on the address of the daemon
// settings' metrics.listen (off by default; typically an address on the
// management interface).
//
// Nothing is counted twice. The Collector reads, on every scrape, one
// Snapshot of the counters `zonegate status` shows (the named nftables
// counters of table inet zonegate, the inspecting proxies' request
// counters, the audit log and drift watcher statistics) plus what status
// does not carry (open proxy connections, denials by reason, the running
// conduits' zones). The daemon hands the collector a Source function that
// builds that snapshot, so this package knows nothing of the daemon and is
// tested with a fake source.
//
// A scrape never holds up the data path: the snapshot is copied out of the
// counters (atomic loads, short read locks) before anything is written to
// the scraper, and the HTTP server bounds what one scraper may hold
// (header size, read and write timeouts, connections, scrapes in flight).
package metrics

import (
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/zonegate/zonegate/gateway/api"
)

// Snapshot is what one scrape reads.
type Snapshot struct {
	// Status is what `zonegate status` shows.
	Status api.Status
	// Conduits are the running model's conduits, for the from and to labels
	// of the conduit counters.
	Conduits []Conduit
	// Connections are the open client connections of each inspecting
	// proxy.
	Connections []Connections
	// Denials are the requests the inspecting proxies denied (or, in
	// monitor mode, would have denied), by reason: the event pipeline's
	// cumulative counters, one count per denial.
	Denials []Denial
	// EventsDropped is how many data-plane events the inspecting proxies
	// dropped because the pipeline did not take them in time (their
	// queues were full): these are missing from Denials and the audit log.
	EventsDropped uint64
}

// Conduit names a conduit's zones.
type Conduit struct {
	Name, From, To string
}

// Connections is the number of open client connections of one inspecting
// proxy.
type Connections struct {
	Protocol string
	Open     int
}

// Denial counts the denied requests of one protocol, conduit and reason.
type Denial struct {
	Protocol, Conduit, Reason string
	Monitor                   bool // the policy only monitors: the request was forwarded
	Count                     uint64
}

// Source returns a snapshot of the counters. It is called once per scrape.
// With an error it may still return what it could read; the scrape then
// carries that part and reports the error.
type Source func() (Snapshot, error)

// Build describes the running binary (zonegate_build_info).
type Build struct {
	Version, Commit, GoVersion string
}

// Names of the nftables counters of table inet zonegate (package firewall).
const (
	nftConduitPrefix = "conduit_"
	nftSpoofPrefix   = "spoofed_"
	nftInvalid       = "invalid"
	nftDropForward   = "dropped_forward"
	nftDropInput     = "dropped_input"
)

// Metric descriptions. Every series is listed in the README.
var (
	descConduitPackets = prometheus.NewDesc("zonegate_conduit_packets_total",
		"Packets that opened a flow through the conduit (nftables counter conduit_NAME: new flows only; established traffic is accepted before the conduits). Inspected conduits count the flows redirected to their proxy.",
		[]string{"conduit", "from", "to"}, nil)
	descConduitBytes = prometheus.NewDesc("zonegate_conduit_bytes_total",
		"Bytes of the packets counted by zonegate_conduit_packets_total.",
		[]string{"conduit", "from", "to"}, nil)
	descSpoofed = prometheus.NewDesc("zonegate_zone_spoofed_packets_total",
		"Packets dropped on an interface of the zone because their source address is outside the zone's networks.",
		[]string{"zone"}, nil)
	descSpoofedBytes = prometheus.NewDesc("zonegate_zone_spoofed_bytes_total",
		"Bytes of the packets counted by zonegate_zone_spoofed_packets_total.",
		[]string{"zone"}, nil)
	descDropped = prometheus.NewDesc("zonegate_dropped_packets_total",
		"Packets dropped by default: chain=forward between zones that no conduit allows, chain=input to the gateway itself from a zone that is not a management zone.",
		[]string{"chain"}, nil)
	descDroppedBytes = prometheus.NewDesc("zonegate_dropped_bytes_total",
		"Bytes of the packets counted by zonegate_dropped_packets_total.",
		[]string{"chain"}, nil)
	descZoneDropped = prometheus.NewDesc("zonegate_zone_dropped_packets_total",
		"Packets from an interface of the zone that the chain dropped by default (nftables counters dropped_forward_ZONE, dropped_input_ZONE).",
		[]string{"zone", "chain"}, nil)
	descZoneDroppedBytes = prometheus.NewDesc("zonegate_zone_dropped_bytes_total",
		"Bytes of the packets counted by zonegate_zone_dropped_packets_total.",
		[]string{"zone", "chain"}, nil)
	descInvalid = prometheus.NewDesc("zonegate_invalid_packets_total",
		"Packets dropped because conntrack found them invalid (forward and input).",
		nil, nil)
	descRulesetCounter = prometheus.NewDesc("zonegate_ruleset_counter_packets_total",
		"Packets of a named counter of table inet zonegate that has no series of its own.",
		[]string{"counter"}, nil)
	descRulesetCounterBytes = prometheus.NewDesc("zonegate_ruleset_counter_bytes_total",
		"Bytes of zonegate_ruleset_counter_packets_total.",
		[]string{"counter"}, nil)

	descRequests = prometheus.NewDesc("zonegate_inspected_requests_total",
		"Requests checked by an inspecting proxy, by conduit, function (Modbus: the function code) and verdict (allowed, denied, monitored = would have been denied, forwarded in monitor mode).",
		[]string{"protocol", "conduit", "function", "verdict"}, nil)
	descDenials = prometheus.NewDesc("zonegate_inspected_denials_total",
		"Requests an inspecting proxy denied (verdict=denied) or would have denied (verdict=monitored), by reason.",
		[]string{"protocol", "conduit", "reason", "verdict"}, nil)
	descConnections = prometheus.NewDesc("zonegate_inspected_connections",
		"Open client connections of an inspecting proxy.",
		[]string{"protocol"}, nil)
	descEventsDropped = prometheus.NewDesc("zonegate_inspected_events_dropped_total",
		"Data-plane events (denials, framing errors, writes) an inspecting proxy dropped because the event pipeline did not take them in time; they are missing from zonegate_inspected_denials_total and the audit log.",
		nil, nil)

	descAuditAvailable = prometheus.NewDesc("zonegate_audit_available",
		"1 while the audit log is open; 0 while it cannot be opened (every change is then refused).",
		nil, nil)
	descAuditUsedRatio = prometheus.NewDesc("zonegate_audit_used_ratio",
		"Fill of the audit log: bytes used over usable bytes (0-1). Changes are refused when it is full.",
		nil, nil)
	descAuditUsed = prometheus.NewDesc("zonegate_audit_used_bytes",
		"Bytes in the audit log's segment files.",
		nil, nil)
	descAuditCapacity = prometheus.NewDesc("zonegate_audit_capacity_bytes",
		"Usable bytes of the audit log (audit.max_size or the filesystem, whichever is less).",
		nil, nil)
	descAuditFull = prometheus.NewDesc("zonegate_audit_full",
		"1 while the audit log is full and configuration changes are refused.",
		nil, nil)
	descAuditLost = prometheus.NewDesc("zonegate_audit_records_lost_total",
		"Audit records that could not be written since the daemon started, by cause: data_plane_queue (inspected writes and denials that found the queue full), best_effort (records of things that happen anyway: service stop, refused calls), data_plane_budget (data-plane records beyond audit.data_plane_share).",
		[]string{"cause"}, nil)
	descAuditQueued = prometheus.NewDesc("zonegate_audit_queued_records",
		"Data-plane audit records waiting to be written.",
		nil, nil)
	descAuditSeq = prometheus.NewDesc("zonegate_audit_sequence",
		"Sequence number of the last durable audit record.",
		nil, nil)

	descDriftChecks = prometheus.NewDesc("zonegate_drift_checks_total",
		"Checks of the ruleset generation for changes made outside zonegate.",
		nil, nil)
	descDriftDetected = prometheus.NewDesc("zonegate_drift_detected_total",
		"Times table inet zonegate was found changed outside zonegate; each time zonegate restores it (a failed restore is logged and audited).",
		nil, nil)
	descDriftLast = prometheus.NewDesc("zonegate_drift_last_detected_timestamp_seconds",
		"Unix time of the last drift detected; absent when none since the start.",
		nil, nil)

	descIsland = prometheus.NewDesc("zonegate_island",
		"1 while the gateway is in island mode (nothing forwarded between zones).",
		nil, nil)
	descPending = prometheus.NewDesc("zonegate_change_pending",
		"1 while a pushed model waits for confirmation and rolls back by itself at its deadline.",
		nil, nil)
	descSessions = prometheus.NewDesc("zonegate_api_sessions",
		"Open sessions of the management API.",
		nil, nil)
	descTLSNotAfter = prometheus.NewDesc("zonegate_modbus_tls_certificate_not_after_timestamp_seconds",
		"When a certificate of a Modbus/TCP Security conduit (the gateway's own, kind certificate, or a client CA) expires.",
		[]string{"conduit", "kind", "subject"}, nil)
	descTLSExpiring = prometheus.NewDesc("zonegate_modbus_tls_certificates_expiring",
		"Certificates of Modbus/TCP Security conduits that expire within 30 days or have expired: renew them.",
		nil, nil)
	descTLSSessions = prometheus.NewDesc("zonegate_modbus_tls_sessions",
		"Open Modbus/TCP Security (TLS) sessions.",
		nil, nil)
	descModel = prometheus.NewDesc("zonegate_model_info",
		"The running zone model: version number in the state directory, canonical digest, gateway name. Always 1.",
		[]string{"version", "digest", "gateway"}, nil)
	descBuild = prometheus.NewDesc("zonegate_build_info",
		"The running zonegate binary. Always 1.",
		[]string{"version", "commit", "goversion"}, nil)
)

var allDescs = []*prometheus.Desc{
	descConduitPackets, descConduitBytes, descSpoofed, descSpoofedBytes, descDropped, descDroppedBytes, descZoneDropped, descZoneDroppedBytes,
	descInvalid, descRulesetCounter, descRulesetCounterBytes,
	descRequests, descDenials, descConnections, descEventsDropped,
	descAuditAvailable, descAuditUsedRatio, descAuditUsed, descAuditCapacity, descAuditFull, descAuditLost,
	descAuditQueued, descAuditSeq,
	descDriftChecks, descDriftDetected, descDriftLast,
	descIsland, descPending, descSessions, descModel, descBuild,
	descTLSNotAfter, descTLSExpiring, descTLSSessions,
}

// Collector is a prometheus.Collector that reads one Snapshot per scrape.
type Collector struct {
	src   Source
	build Build
}

// NewCollector returns a collector of the snapshots of src.
func NewCollector(src Source, build Build) *Collector {
	return &Collector{src: src, build: build}
}

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range allDescs {
		ch <- d
	}
}

// Collect implements prometheus.Collector: it takes one snapshot and
// turns it into metrics. A source error is reported as an invalid metric
// (logged by the handler) after the part of the snapshot that was read.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	gauge(descBuild, 1, c.build.Version, c.build.Commit, c.build.GoVersion)
	s, err := c.src()
	if err != nil {
		defer func() { ch <- prometheus.NewInvalidMetric(descModel, err) }()
	}
	st := s.Status

	zones := make(map[string]Conduit, len(s.Conduits))
	for _, cd := range s.Conduits {
		zones[cd.Name] = cd
	}
	// The chain totals are the counters of packets from no zone's
	// interface plus every zone's.
	drops := map[string]dropTotal{"forward": {}, "input": {}}
	for _, nc := range st.Counters {
		switch {
		case strings.HasPrefix(nc.Name, nftConduitPrefix):
			name := strings.TrimPrefix(nc.Name, nftConduitPrefix)
			cd := zones[name]
			counter(descConduitPackets, nc.Packets, name, cd.From, cd.To)
			counter(descConduitBytes, nc.Bytes, name, cd.From, cd.To)
		case strings.HasPrefix(nc.Name, nftSpoofPrefix):
			z := strings.TrimPrefix(nc.Name, nftSpoofPrefix)
			counter(descSpoofed, nc.Packets, z)
			counter(descSpoofedBytes, nc.Bytes, z)
		case nc.Name == nftDropForward, nc.Name == nftDropInput:
			chain := strings.TrimPrefix(nc.Name, "dropped_")
			drops[chain] = drops[chain].add(nc)
		case strings.HasPrefix(nc.Name, nftDropForward+"_"), strings.HasPrefix(nc.Name, nftDropInput+"_"):
			chain, z, _ := strings.Cut(strings.TrimPrefix(nc.Name, "dropped_"), "_")
			counter(descZoneDropped, nc.Packets, z, chain)
			counter(descZoneDroppedBytes, nc.Bytes, z, chain)
			drops[chain] = drops[chain].add(nc)
		case nc.Name == nftInvalid:
			counter(descInvalid, nc.Packets)
		default:
			counter(descRulesetCounter, nc.Packets, nc.Name)
			counter(descRulesetCounterBytes, nc.Bytes, nc.Name)
		}
	}
	for _, chain := range []string{"forward", "input"} {
		counter(descDropped, drops[chain].packets, chain)
		counter(descDroppedBytes, drops[chain].bytes, chain)
	}

	for _, m := range st.Modbus {
		counter(descRequests, m.Count, "modbus", m.Conduit, strconv.Itoa(m.Function), m.Verdict)
	}
	for _, m := range st.Inspected {
		counter(descRequests, m.Count, m.Protocol, m.Conduit, m.Function, m.Verdict)
	}
	for _, dn := range mergeDenials(s.Denials) {
		verdict := "denied"
		if dn.Monitor {
			verdict = "monitored"
		}
		counter(descDenials, dn.Count, dn.Protocol, dn.Conduit, dn.Reason, verdict)
	}
	for _, cn := range s.Connections {
		gauge(descConnections, float64(cn.Open), cn.Protocol)
	}
	counter(descEventsDropped, s.EventsDropped)

	if a := st.Audit; a != nil {
		gauge(descAuditAvailable, 1)
		ratio := 0.0
		if a.Capacity > 0 {
			ratio = float64(a.Used) / float64(a.Capacity)
		}
		gauge(descAuditUsedRatio, ratio)
		gauge(descAuditUsed, float64(a.Used))
		gauge(descAuditCapacity, float64(a.Capacity))
		gauge(descAuditFull, boolValue(a.Full))
		counter(descAuditLost, a.Lost, "data_plane_queue")
		counter(descAuditLost, a.LostBestEffort, "best_effort")
		counter(descAuditLost, a.DataPlaneDropped, "data_plane_budget")
		gauge(descAuditQueued, float64(a.QueueLen))
		gauge(descAuditSeq, float64(a.Seq))
	} else if err == nil {
		gauge(descAuditAvailable, 0)
	}

	counter(descDriftChecks, st.Drift.Checks)
	counter(descDriftDetected, st.Drift.Detected)
	if !st.Drift.Last.IsZero() {
		gauge(descDriftLast, float64(st.Drift.Last.UnixNano())/float64(time.Second))
	}
	gauge(descIsland, boolValue(st.Island))
	gauge(descPending, boolValue(st.Pending != nil))
	gauge(descSessions, float64(st.Sessions))
	expiring := 0
	for _, c := range st.ModbusTLS {
		gauge(descTLSNotAfter, float64(c.NotAfter.Unix()), c.Conduit, c.Kind, c.Subject)
		if c.ExpiresSoon {
			expiring++
		}
	}
	gauge(descTLSExpiring, float64(expiring))
	gauge(descTLSSessions, float64(st.TLSSessions))
	if st.Version > 0 {
		gauge(descModel, 1, strconv.Itoa(st.Version), st.Digest, st.Gateway)
	}
}

// mergeDenials adds up denials with the same labels (a source may report
// one protocol's counters in parts).
func mergeDenials(ds []Denial) []Denial {
	type key struct {
		protocol, conduit, reason string
		monitor                   bool
	}
	idx := make(map[key]int, len(ds))
	var out []Denial
	for _, d := range ds {
		k := key{d.Protocol, d.Conduit, d.Reason, d.Monitor}
		if i, ok := idx[k]; ok {
			out[i].Count += d.Count
			continue
		}
		idx[k] = len(out)
		out = append(out, d)
	}
	return out
}

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// dropTotal adds up the drop counters of one chain.
type dropTotal struct{ packets, bytes uint64 }

func (t dropTotal) add(c api.Counter) dropTotal {
	return dropTotal{t.packets + c.Packets, t.bytes + c.Bytes}
}
