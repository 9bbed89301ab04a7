package httpapi

import (
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/zonegate/zonegate/gateway/audit"
	"github.com/zonegate/zonegate/gateway/internal/clock"
)

// API calls refused with 401 (no token, bad or expired token) are
// recorded, but a script that knocks a thousand times a second must not
// fill the audit log: the calls are counted per (peer uid, API route) and
// written as one "unauthenticated" record per key and interval, with the
// count and the times of the first and the last call. The web console's
// requests refused for want of a valid session are counted the same way,
// per (client address, console route) (NoteRemote). A call only
// updates a map; the records are written from a timer (or at shutdown)
// with AppendBestEffort, so a refused call never waits for the log.

// UnauthInterval is how long refused calls of one key are gathered into
// one record.
const UnauthInterval = 60 * time.Second

// unauthMaxKeys bounds the keys of one interval; calls of further keys
// are counted together under unauthOverflow.
const unauthMaxKeys = 256

// unauthOverflow is the key that gathers calls once unauthMaxKeys keys
// are open.
var unauthOverflow = unauthKey{uid: -2, route: "*"}

// Detail keys of the unauthenticated records besides audit's.
const (
	detailUID   = "uid"   // the peer's user id from the socket credentials
	detailPID   = "pid"   // the process id of the first refused call
	detailFirst = "first" // time of the first refused call of the interval
	detailLast  = "last"  // time of the last one
)

type unauthKey struct {
	uid    int
	remote string // the client's IP address for a network client (the console); "" for the socket's
	route  string
}

type unauthCount struct {
	count       uint64
	first, last time.Time
	pid         int    // of the first call
	addr        string // of the first call of a network client (address:port)
	why         string
}

// Unauthenticated aggregates the calls refused with 401 (what a Backend
// hears through Unauthenticated) and writes their records.
type Unauthenticated struct {
	clk      clock.Clock
	interval time.Duration
	write    func(audit.Record)

	mu     sync.Mutex
	open   map[unauthKey]*unauthCount
	order  []unauthKey // keys in the order of their first call
	timer  clock.Timer
	closed bool
}

// NewUnauthenticated gathers refused calls for interval (UnauthInterval
// in the daemon) and hands each key's record to write, which must not
// block for long (audit.Recorder.RecordBestEffort).
func NewUnauthenticated(clk clock.Clock, interval time.Duration, write func(audit.Record)) *Unauthenticated {
	return &Unauthenticated{clk: clk, interval: interval, write: write}
}

// Note counts one refused call. The first call after a quiet interval
// starts the timer that writes the records when the interval ends.
func (u *Unauthenticated) Note(peer PeerCred, route, why string) {
	u.note(unauthKey{uid: peer.UID, route: route}, peer.PID, "", why)
}

// NoteRemote counts one request of a network client (the web console's
// client at addr, "198.18.60.11:42000") refused for want of a valid
// session; the requests of one address aggregate whatever their port.
func (u *Unauthenticated) NoteRemote(addr, route, why string) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		host = addr
	}
	u.note(unauthKey{uid: -1, remote: host, route: route}, -1, addr, why)
}

func (u *Unauthenticated) note(k unauthKey, pid int, addr, why string) {
	now := u.clk.Now()
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.closed {
		return
	}
	if u.open == nil {
		u.open = map[unauthKey]*unauthCount{}
	}
	c := u.open[k]
	if c == nil && len(u.open) >= unauthMaxKeys {
		k = unauthOverflow
		c = u.open[k]
	}
	if c == nil {
		c = &unauthCount{first: now, pid: pid, addr: addr}
		u.open[k] = c
		u.order = append(u.order, k)
	}
	c.count++
	c.last, c.why = now, why
	if u.timer == nil {
		u.timer = u.clk.AfterFunc(u.interval, u.flush)
	}
}

// flush writes the records of the open interval.
func (u *Unauthenticated) flush() {
	u.mu.Lock()
	open, order := u.open, u.order
	u.open, u.order = nil, nil
	if u.timer != nil {
		u.timer.Stop()
		u.timer = nil
	}
	u.mu.Unlock()
	for _, k := range order {
		u.write(unauthRecord(k, open[k]))
	}
}

// Close writes what is open and ignores later calls (shutdown).
func (u *Unauthenticated) Close() {
	u.mu.Lock()
	u.closed = true
	u.mu.Unlock()
	u.flush()
}

// unauthRecord is the record of one key's refused calls.
func unauthRecord(k unauthKey, c *unauthCount) audit.Record {
	if k.remote != "" {
		return audit.Record{Time: c.last, Actor: k.remote, Category: audit.CategoryAccount, Action: audit.ActionUnauthenticated,
			Object: k.route, Result: audit.ResultDenied, Details: map[string]string{
				audit.DetailRemote: c.addr,
				audit.DetailCount:  strconv.FormatUint(c.count, 10),
				detailFirst:        c.first.UTC().Format(time.RFC3339Nano),
				detailLast:         c.last.UTC().Format(time.RFC3339Nano),
				audit.DetailReason: c.why,
			}}
	}
	peer := PeerCred{UID: k.uid, PID: c.pid}
	uid, pid := "unknown", "unknown"
	if k.uid >= 0 {
		uid, pid = strconv.Itoa(k.uid), strconv.Itoa(c.pid)
	}
	if k == unauthOverflow {
		uid, pid = "many", "many"
		peer = PeerCred{UID: -1}
	}
	return audit.Record{Time: c.last, Actor: peer.String(), Category: audit.CategoryAccount, Action: audit.ActionUnauthenticated,
		Object: k.route, Result: audit.ResultDenied, Details: map[string]string{
			detailUID:          uid,
			detailPID:          pid,
			audit.DetailCount:  strconv.FormatUint(c.count, 10),
			detailFirst:        c.first.UTC().Format(time.RFC3339Nano),
			detailLast:         c.last.UTC().Format(time.RFC3339Nano),
			audit.DetailReason: c.why,
		}}
}
