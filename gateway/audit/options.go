package audit

import (
	"errors"
	"os"
	"strings"
	"time"
)

// Options configure Open. Only Dir and Gateway are required.
type Options struct {
	// Dir is the state directory holding the segments and state files.
	Dir string
	// KeyDir holds the HMAC and signing keys; default Dir/keys. Keep it on
	// storage that is not copied off the gateway with the log.
	KeyDir string
	// Gateway is the gateway name from the zone model; stored in every record.
	Gateway string
	// BootID defaults to /proc/sys/kernel/random/boot_id.
	BootID string

	// MaxBytes is the most the segments may occupy; default 64 MiB.
	MaxBytes int64
	// SegmentBytes is the size at which a segment is closed and a new one
	// started; default MaxBytes/16, at least 64 KiB.
	SegmentBytes int64
	// WarnPercent is the fill level that triggers a storage-warning record
	// and a log line; default 80.
	WarnPercent int
	// Reserve is space kept for the log's own records (storage-full, lost,
	// checkpoints) once callers' records are refused; default 64 KiB.
	Reserve int64

	// DataPlaneShare is the share of the capacity (MaxBytes, or less when
	// the filesystem is smaller, less Reserve) that data-plane records
	// (Enqueue) may occupy, so that no traffic can take the room of
	// account, configuration and service records: only their own volume
	// can fill the log. Open counts the data-plane records already in the
	// segments; Prune gives their room back. Beyond the share data-plane
	// records are counted as dropped (Stats.DataPlaneDropped) and a
	// "data-plane-dropped" record, written from the last part of the share
	// kept for it, says how many, at most once per DataPlaneReport.
	// Default 0.5; at most 0.9.
	DataPlaneShare float64
	// DataPlaneReport is the least time between two "data-plane-dropped"
	// records; default 10s.
	DataPlaneReport time.Duration
	// QueueSize bounds the data-plane queue (records); default 4096.
	QueueSize int
	// CommitDelay is how long data-plane records may wait to be written
	// together; default 50ms (records are durable within CommitDelay plus
	// one fsync, well under 100 ms).
	CommitDelay time.Duration
	// CheckpointEvery is the number of records between signed checkpoints;
	// default 1000.
	CheckpointEvery int
	// CheckpointInterval signs a checkpoint at least this often while
	// records are being written; default 5 minutes.
	CheckpointInterval time.Duration

	// Logger receives operational messages (warnings, failures); default none.
	Logger Logger
	// OnCommit, if set, is called by the writer after each commit with the
	// highest durable sequence number. It must not block.
	OnCommit func(durableSeq uint64)
	// Now is the clock; default time.Now.
	Now func() time.Time

	// blockingEnqueue makes Enqueue wait instead of dropping (benchmarks).
	blockingEnqueue bool
}

const (
	defaultMaxBytes        = 64 << 20
	minSegmentBytes        = 64 << 10
	defaultReserve         = 64 << 10
	defaultQueueSize       = 4096
	defaultCommitDelay     = 50 * time.Millisecond
	maxCommitDelay         = 90 * time.Millisecond
	defaultCheckpointEvery = 1000
	defaultDataPlaneShare  = 0.5
	maxDataPlaneShare      = 0.9
	defaultDataPlaneReport = 10 * time.Second
	defaultCheckpointIntvl = 5 * time.Minute
)

func (o *Options) setDefaults() error {
	if o.Dir == "" {
		return errors.New("audit: Options.Dir is required")
	}
	if o.Gateway == "" {
		return errors.New("audit: Options.Gateway is required (the gateway name from the zone model)")
	}
	if o.KeyDir == "" {
		o.KeyDir = DefaultKeyDir(o.Dir)
	}
	if o.BootID == "" {
		o.BootID = readBootID()
	}
	if o.MaxBytes <= 0 {
		o.MaxBytes = defaultMaxBytes
	}
	if o.SegmentBytes <= 0 {
		o.SegmentBytes = o.MaxBytes / 16
	}
	if o.SegmentBytes < minSegmentBytes {
		o.SegmentBytes = minSegmentBytes
	}
	if o.WarnPercent <= 0 || o.WarnPercent > 100 {
		o.WarnPercent = 80
	}
	if o.Reserve <= 0 {
		o.Reserve = defaultReserve
	}
	if o.MaxBytes < 2*o.Reserve+minSegmentBytes {
		return errors.New("audit: MaxBytes is too small; allow at least 2*Reserve + 64 KiB")
	}
	if o.DataPlaneShare <= 0 {
		o.DataPlaneShare = defaultDataPlaneShare
	}
	if o.DataPlaneShare > maxDataPlaneShare {
		return errors.New("audit: DataPlaneShare is above 0.9; leave at least a tenth of the log to configuration and account changes")
	}
	if o.DataPlaneReport <= 0 {
		o.DataPlaneReport = defaultDataPlaneReport
	}
	if o.QueueSize <= 0 {
		o.QueueSize = defaultQueueSize
	}
	if o.CommitDelay <= 0 {
		o.CommitDelay = defaultCommitDelay
	}
	if o.CommitDelay > maxCommitDelay {
		o.CommitDelay = maxCommitDelay
	}
	if o.CheckpointEvery <= 0 {
		o.CheckpointEvery = defaultCheckpointEvery
	}
	if o.CheckpointInterval <= 0 {
		o.CheckpointInterval = defaultCheckpointIntvl
	}
	if o.Logger == nil {
		o.Logger = nopLogger{}
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return nil
}

func readBootID() string {
	b, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if err != nil {
		return "unknown"
	}
	return strings.TrimSpace(string(b))
}
