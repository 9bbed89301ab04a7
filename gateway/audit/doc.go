// Package audit is the gateway's tamper-evident, append-only audit log of
// ID/password changes, setting changes and device writes, with verification
// tools and an RFC 5424 syslog export.
//
// # Writing
//
// Open a Log on a state directory. Account, configuration and service events
// go through Append, which returns only once the record is on disk (fsync);
// if Append fails the change must be refused. The error wraps ErrFull while
// the log is full. Data-plane events (Modbus writes and denials) go through
// Enqueue, which never blocks: records wait at most Options.CommitDelay in a
// bounded queue and are written in groups; when the queue or the storage is
// full they are counted as lost and a "lost" record later says how many.
// Data-plane records occupy at most Options.DataPlaneShare of the log
// (default half; Open counts those already in the segments, Prune gives
// their room back): beyond it they are counted as dropped
// (Stats.DataPlaneDropped) and a "data-plane-dropped" record says how
// many, so that no traffic can fill the room of account and configuration
// changes; only their own volume can make the log full.
// Data-plane records are never refused for their contents: secrets are
// redacted, and what does not fit is shortened, never dropped silently (the
// "truncated" detail names every shortened field or detail with its
// original length). AppendBestEffort is Append for records whose loss must
// not stop anything (service stop); its failures are counted in
// Stats.LostBestEffort and in the next "lost" record.
//
// # On disk
//
// The directory holds segment files audit-00000001.log, audit-00000002.log,
// ... (rotated at Options.SegmentBytes), checkpoint.json (the latest signed
// checkpoint), pruned.json (only after Prune), lock, and keys/ with
// hmac.key and signing.key (mode 0600, created at first start) and
// signing.pub. A segment starts with the magic "ZGAUDIT1" followed by
// frames:
//
//	"ZG" | version 1 | kind | payload length (4) | seq (8) | CRC-32C (4)
//	| payload (JSON) | chain hash (32) | HMAC (32)
//
// kind is 1 for a record, 2 for the segment header (the first frame of every
// segment, action "rotate", naming the previous segment's last sequence
// number and hash), 3 for a checkpoint. The payload is a JSON object with
// time (UTC, microseconds), boot_id, gateway, actor, category, action,
// object, result and details.
//
//	hash(n) = SHA-256("zonegate-audit-chain-v1\x00" || hash(n-1) || version || kind || seq || payload)
//	mac(n)  = HMAC-SHA-256(hmac key, hash(n))
//
// A checkpoint record carries an Ed25519 signature over (gateway, seq,
// hash(seq)) of the record before it; the same statement is written to
// checkpoint.json after the checkpoint is durable. Checkpoints are written
// every Options.CheckpointEvery records, every Options.CheckpointInterval,
// at the end of each segment and at Close.
//
// # What each protection covers
//
//   - The CRC separates a crash from damage: at start-up, bytes at the end
//     of the last segment that are not a complete valid frame and are
//     followed by no valid frame are a torn write; they are trimmed and a
//     "recovered" record says how many bytes were dropped. Invalid bytes
//     followed by valid frames are damage: never trimmed; the segment is
//     kept, a "failure" record is written and the log continues in a new
//     segment.
//   - The hash chain makes any change, insertion, deletion or reordering of
//     records visible relative to any later trusted hash. Anyone can
//     recompute it, so on its own it protects only against accidents.
//   - The HMAC (secret key on the gateway) lets whoever holds the key check
//     every record, including those after the last checkpoint. It protects
//     against someone who can edit the files but cannot read the key.
//   - Ed25519 checkpoints can be checked with the public key alone, on any
//     machine. Without the private key nobody can rewrite the records they
//     cover, or truncate the log before the last checkpoint (checkpoint.json
//     would name a missing record).
//   - The end of the log: once the log has made a signed checkpoint,
//     checkpoint.json must exist and name the newest checkpoint in the
//     segments (one behind only while that checkpoint is the last record: a
//     crash between the two writes, which the next start completes). A
//     missing or older checkpoint.json is what removing the newest segment
//     leaves behind: Verify reports it, and so does the next start, with a
//     "failure" record that stays in the log. The syslog export cursors in
//     the directory name records a collector has received: the log must
//     still hold them.
//   - Someone who can write the directory can still remove the newest
//     segments together with checkpoint.json and the cursors, or put back
//     older copies of all of them, while zonegate is stopped and without
//     starting it again; someone with root on the gateway can read both
//     keys and rewrite and re-sign everything. Against that, only copies
//     kept elsewhere help: the syslog export (which carries every record,
//     signed checkpoints included, with its chain hash), a copy of
//     checkpoint.json, and the public key kept off the gateway. Verify with
//     VerifyOptions.Witness (LoadWitness reads either) fails when the log
//     ends before a witnessed checkpoint or holds another hash there. See
//     Witness for what each layer catches.
//
// # Storage
//
// The segments may use Options.MaxBytes, or less when the filesystem has
// less room. A "storage-warning" record and a log line are written once
// when the room left is no more than at Options.WarnPercent of MaxBytes,
// whichever limit is nearer: MaxBytes or the filesystem's free space (a
// small or shared partition); the record and Stats (Limit, Room,
// StorageWarning, FullReason) say which. When callers' records no longer fit (the last
// Options.Reserve bytes are kept for the log's own records), Append returns
// a *FullError (ErrFull), Enqueue counts records as lost, and a
// "storage-full" record is written. Forwarding is never blocked. Nothing is
// deleted automatically: rotation only starts a new segment. Space is freed
// by Prune after archiving, which first writes a signed "prune" statement
// (also in pruned.json) naming the new start of the log, so that Verify
// accepts the missing segments.
//
// # Reading and verifying
//
// Verify checks a directory offline; Read walks the records with a Filter;
// TableWriter and WriteJSONLine format them. An Exporter sends every record
// to a syslog collector (RFC 5424 over TCP or TLS, octet-counted framing),
// resuming from a persisted cursor.
package audit
