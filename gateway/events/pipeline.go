package events

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/zonegate/zonegate/gateway/internal/clock"
)

// Defaults of Config.
const (
	DefaultInterval = 10 * time.Second
	DefaultMaxKeys  = 1024
	DefaultRing     = 1024
)

// Config configures a Pipeline.
type Config struct {
	// Interval is how long events are aggregated before the sinks get
	// them; default 10 s.
	Interval time.Duration
	// MaxKeys bounds the aggregation table (keys per interval); events of
	// further keys go into one "other" aggregate. Default 1024.
	MaxKeys int
	// Ring is how many recent aggregates Since can return; default 1024.
	Ring int
	// Clock drives the interval (Run) and the time of Flush; default the
	// system clock.
	Clock clock.Clock
	// Sinks receive the aggregates and the individual events.
	Sinks []Sink
}

// FirstSink is a Sink that also wants the first event of every key in an
// interval promptly (the daemon log: a new attack is visible at once, its
// volume at the end of the interval).
type FirstSink interface {
	Sink
	// First receives the first event of a key in the current interval,
	// off the hot path, from the goroutine that runs Flush, before the
	// interval's Flush.
	First(ev *Event)
}

// Sink receives what the pipeline hands on.
type Sink interface {
	// Flush receives one interval's aggregates, off the hot path, from
	// one goroutine at a time. The batch is only valid during the call.
	Flush(b *Batch)
	// Individual receives an event recorded one by one (allowed writes)
	// with its details. It is called on the hot path: it must not block.
	Individual(ev *Event, details map[string]string)
}

// Pipeline aggregates data-plane events. Record and Individual are safe
// for concurrent use.
type Pipeline struct {
	cfg Config

	mu       sync.Mutex // guards cur, reported and totals
	cur      *table
	spare    *table
	reported int           // keys of cur already handed to FirstSinks
	kick     chan struct{} // a new key is waiting to be announced
	firsts   []Event       // scratch of announce

	flushMu sync.Mutex // one Flush at a time; guards spare's contents while flushing
	start   time.Time

	counts   [numKinds]atomic.Uint64
	overflow atomic.Uint64
	emitted  atomic.Uint64
	totals   map[totalKey]*Total // guarded by mu

	feedsMu sync.Mutex
	feeds   []follower // followed proxies

	ringMu  sync.Mutex
	ring    []Aggregate // circular, by Seq
	seq     uint64      // Seq of the newest aggregate
	changed chan struct{}
}

// table is one interval's aggregation table, allocated once and reused.
type table struct {
	index map[key]int32
	aggs  []Aggregate // len = keys in use, cap = MaxKeys
	other Aggregate
}

func newTable(n int) *table {
	return &table{index: make(map[key]int32, n), aggs: make([]Aggregate, 0, n)}
}

func (t *table) reset() {
	clear(t.index)
	clear(t.aggs)
	t.aggs = t.aggs[:0]
	t.other = Aggregate{}
}

// New returns a pipeline; call Run to flush it every interval.
func New(cfg Config) *Pipeline {
	if cfg.Interval <= 0 {
		cfg.Interval = DefaultInterval
	}
	if cfg.MaxKeys <= 0 {
		cfg.MaxKeys = DefaultMaxKeys
	}
	if cfg.Ring <= 0 {
		cfg.Ring = DefaultRing
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.Real()
	}
	return &Pipeline{cfg: cfg, cur: newTable(cfg.MaxKeys), spare: newTable(cfg.MaxKeys),
		start: cfg.Clock.Now(), ring: make([]Aggregate, cfg.Ring), changed: make(chan struct{}), kick: make(chan struct{}, 1)}
}

// Interval is the aggregation interval.
func (p *Pipeline) Interval() time.Duration { return p.cfg.Interval }

// Record counts an event into the current interval. It does not format
// or allocate (a key's first event in an interval copies the event into
// the preallocated table). ev is not retained.
func (p *Pipeline) Record(ev *Event) {
	if ev.Kind >= numKinds {
		return
	}
	p.counts[ev.Kind].Add(ev.n())
	k := keyOf(ev)
	p.mu.Lock()
	p.total(ev)
	t := p.cur
	i, ok := t.index[k]
	if !ok {
		if len(t.aggs) == cap(t.aggs) {
			t.other.add(ev)
			p.mu.Unlock()
			p.overflow.Add(ev.n())
			return
		}
		i = int32(len(t.aggs))
		t.aggs = t.aggs[:i+1]
		t.index[k] = i
		t.aggs[i].add(ev)
		p.mu.Unlock()
		select { // Run announces it
		case p.kick <- struct{}{}:
		default:
		}
		return
	}
	t.aggs[i].add(ev)
	p.mu.Unlock()
}

// announce hands the keys new in the current interval to the FirstSinks.
func (p *Pipeline) announce() {
	p.flushMu.Lock()
	defer p.flushMu.Unlock()
	p.mu.Lock()
	t := p.cur
	for i := p.reported; i < len(t.aggs); i++ {
		p.firsts = append(p.firsts, t.aggs[i].Sample)
	}
	p.reported = len(t.aggs)
	p.mu.Unlock()
	p.first(p.firsts)
	clear(p.firsts)
	p.firsts = p.firsts[:0]
}

func (p *Pipeline) first(evs []Event) {
	for _, s := range p.cfg.Sinks {
		if fs, ok := s.(FirstSink); ok {
			for i := range evs {
				fs.First(&evs[i])
			}
		}
	}
}

// Individual hands an event that is recorded one by one (an allowed
// write) to the sinks at once, with its details.
func (p *Pipeline) Individual(ev *Event, details map[string]string) {
	if ev.Kind >= numKinds {
		return
	}
	p.counts[ev.Kind].Add(ev.n())
	p.mu.Lock()
	p.total(ev)
	p.mu.Unlock()
	for _, s := range p.cfg.Sinks {
		s.Individual(ev, details)
	}
}

// totalKey is what the cumulative counters count by: not the source (a
// scan of many sources stays one counter), so their number is bounded by
// the conduits and zones times the fixed reasons.
type totalKey struct {
	kind    Kind
	proto   string
	scope   string
	reason  string
	monitor bool
}

// Total is the cumulative count of one kind of event by protocol,
// conduit (or zone) and reason since the pipeline started: the one count
// of each event that the metrics read.
type Total struct {
	Kind     Kind
	Protocol string
	Scope    string // conduit, or ingress zone
	Reason   string
	Monitor  bool
	Count    uint64
}

// total counts ev in the cumulative counters (p.mu held). Only the first
// event of a key allocates.
func (p *Pipeline) total(ev *Event) {
	scope := ev.Conduit
	if scope == "" {
		scope = ev.Zone
	}
	k := totalKey{ev.Kind, ev.Protocol, scope, ev.Reason, ev.Monitor}
	t := p.totals[k]
	if t == nil {
		if p.totals == nil {
			p.totals = map[totalKey]*Total{}
		}
		t = &Total{Kind: ev.Kind, Protocol: ev.Protocol, Scope: scope, Reason: ev.Reason, Monitor: ev.Monitor}
		p.totals[k] = t
	}
	t.Count += ev.n()
}

// Totals returns the cumulative counters of the events of kind (0: all).
func (p *Pipeline) Totals(kind Kind) []Total {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]Total, 0, len(p.totals))
	for _, t := range p.totals {
		if kind == 0 || t.Kind == kind {
			out = append(out, *t)
		}
	}
	return out
}

// Flush ends the current interval: its aggregates get sequence numbers,
// go into the ring and to the sinks. Run calls it every interval; tests
// call it after moving a fake clock.
func (p *Pipeline) Flush() {
	p.flushMu.Lock()
	defer p.flushMu.Unlock()
	now := p.cfg.Clock.Now()
	p.mu.Lock()
	t := p.cur
	p.cur, p.spare = p.spare, t
	announced := p.reported
	p.reported = 0
	p.mu.Unlock()
	if announced < len(t.aggs) {
		p.firsts = p.firsts[:0]
		for i := announced; i < len(t.aggs); i++ {
			p.firsts = append(p.firsts, t.aggs[i].Sample)
		}
		p.first(p.firsts)
		clear(p.firsts)
		p.firsts = p.firsts[:0]
	}

	b := Batch{Start: p.start, End: now}
	p.start = now
	if n := len(t.aggs); n > 0 || t.other.Count > 0 {
		b.Aggregates = make([]Aggregate, 0, n+1)
		b.Aggregates = append(b.Aggregates, t.aggs...)
		if t.other.Count > 0 {
			o := t.other
			o.Sample.Kind = Other
			b.Aggregates = append(b.Aggregates, o)
		}
	}
	t.reset()
	if len(b.Aggregates) == 0 {
		return
	}
	p.ringMu.Lock()
	for i := range b.Aggregates {
		p.seq++
		b.Aggregates[i].Seq = p.seq
		p.ring[p.seq%uint64(len(p.ring))] = b.Aggregates[i]
	}
	close(p.changed)
	p.changed = make(chan struct{})
	p.ringMu.Unlock()
	p.emitted.Add(uint64(len(b.Aggregates)))
	for _, s := range p.cfg.Sinks {
		s.Flush(&b)
	}
}

// Run flushes the pipeline every interval until ctx ends, then once more.
func (p *Pipeline) Run(ctx context.Context) {
	tk := p.cfg.Clock.NewTicker(p.cfg.Interval)
	defer tk.Stop()
	for {
		select {
		case <-ctx.Done():
			p.settle() // the last events of the proxies that stopped
			p.Flush()
			return
		case <-tk.C():
			p.Flush()
		case <-p.kick:
			p.announce()
		}
	}
}

// Since returns the aggregates with a sequence number above seq that are
// still in the ring (oldest first, at most limit; limit <= 0: all), and
// the newest sequence number.
func (p *Pipeline) Since(seq uint64, limit int) ([]Aggregate, uint64) {
	p.ringMu.Lock()
	defer p.ringMu.Unlock()
	oldest := uint64(1)
	if n := uint64(len(p.ring)); p.seq > n {
		oldest = p.seq - n + 1
	}
	from := max(seq+1, oldest)
	var out []Aggregate
	for s := from; s <= p.seq; s++ {
		if limit > 0 && len(out) == limit {
			break
		}
		out = append(out, p.ring[s%uint64(len(p.ring))])
	}
	return out, p.seq
}

// Wait returns once an aggregate newer than seq exists, or ctx ends.
func (p *Pipeline) Wait(ctx context.Context, seq uint64) {
	p.ringMu.Lock()
	if p.seq > seq {
		p.ringMu.Unlock()
		return
	}
	ch := p.changed
	p.ringMu.Unlock()
	select {
	case <-ch:
	case <-ctx.Done():
	}
}

// Stats are the pipeline's counters since it started.
type Stats struct {
	// Events counts the events recorded, by kind name (Kind.String).
	Events map[string]uint64
	// Aggregates counts the aggregates handed to the sinks.
	Aggregates uint64
	// Overflow counts events that went into the "other" aggregate
	// because the table was full.
	Overflow uint64
	// Dropped counts the events the followed proxies dropped because
	// their queues were full (the pipeline did not keep up).
	Dropped uint64
}

// Stats returns a snapshot of the counters.
func (p *Pipeline) Stats() Stats {
	s := Stats{Events: map[string]uint64{}, Aggregates: p.emitted.Load(), Overflow: p.overflow.Load(), Dropped: p.dropped()}
	for k := Kind(1); k < numKinds; k++ {
		if n := p.counts[k].Load(); n > 0 {
			s.Events[k.String()] = n
		}
	}
	return s
}
