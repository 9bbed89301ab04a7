package audit

// Category groups audit records by what changed. Callers use the constants
// below; the strings are part of the on-disk format and the syslog export and
// are never renamed.
type Category string

// Categories of audit records.
const (
	// CategoryAccount covers local accounts: IDs, passwords, roles, logins.
	CategoryAccount Category = "account"
	// CategoryConfig covers the zone model and the daemon settings.
	CategoryConfig Category = "config"
	// CategoryService covers the daemon starting and stopping.
	CategoryService Category = "service"
	// CategoryAudit covers the audit log's own events (rotation, checkpoints,
	// storage, failures, recovery). Most are written by this package itself.
	CategoryAudit Category = "audit"
	// CategoryInspection covers the proxies of inspected protocols: allowed
	// writes to field devices (device setting changes) and denied requests,
	// whatever the protocol; DetailProtocol names it ("modbus"). These are
	// data-plane records: use Log.Enqueue for them.
	CategoryInspection Category = "inspection"
	// CategoryModbus is the category of the Modbus proxy's records written
	// before CategoryInspection existed. Existing logs keep it (records are
	// never rewritten); nothing writes it any more.
	CategoryModbus Category = "modbus"
	// CategoryNetwork covers packets the ruleset dropped (forward, input,
	// anti-spoofing), aggregated per source and interval. Data-plane
	// records: use Log.Enqueue.
	CategoryNetwork Category = "network"
)

// Action says what happened within a category.
type Action string

// Account actions.
const (
	ActionAccountCreate  Action = "create"
	ActionAccountDelete  Action = "delete"
	ActionAccountDisable Action = "disable"
	ActionAccountEnable  Action = "enable"
	ActionRoleChange     Action = "role-change"
	ActionPasswordChange Action = "password-change"
	ActionPasswordReset  Action = "password-reset"
	ActionLoginSuccess   Action = "login-success"
	ActionLoginFailure   Action = "login-failure"
	ActionLockout        Action = "lockout"
	ActionUnlock         Action = "unlock"
	// ActionUnauthenticated records management API calls refused for want
	// of a valid session (HTTP 401), aggregated per peer uid and route
	// over an interval: DetailCount calls, the first and last time.
	ActionUnauthenticated Action = "unauthenticated"
)

// Configuration actions.
const (
	ActionModelApplied    Action = "model-applied"
	ActionModelRejected   Action = "model-rejected"
	ActionModelRolledBack Action = "model-rolled-back"
	// ActionModelConfirmed records that a pushed model waiting for
	// confirmation was made permanent.
	ActionModelConfirmed Action = "model-confirmed"
	// ActionIslandMode records entering or leaving island mode; put "on" or
	// "off" in DetailState.
	ActionIslandMode       Action = "island-mode"
	ActionDriftDetected    Action = "drift-detected"
	ActionDriftRestored    Action = "drift-restored"
	ActionSettingsChanged  Action = "settings-changed"
	ActionSettingsRejected Action = "settings-rejected"
	// ActionHistoryNotUpdated records that a change took effect but the
	// model version history could not be updated to show it; the details
	// name the state the version should have (DetailState) and why
	// (DetailReason).
	ActionHistoryNotUpdated Action = "history-not-updated"
)

// Service actions.
const (
	ActionServiceStart Action = "start"
	ActionServiceStop  Action = "stop"
)

// Audit log actions. The package writes these itself; callers normally do not.
const (
	// ActionRotate is the first record of every segment (its header); its
	// details name the previous segment's head.
	ActionRotate Action = "rotate"
	// ActionCheckpoint carries an Ed25519 signature over (sequence, head hash).
	ActionCheckpoint Action = "checkpoint"
	// ActionStorageWarning is written once when the fill level crosses the
	// warning percentage.
	ActionStorageWarning Action = "storage-warning"
	// ActionStorageFull is written (from the reserve) when the log becomes
	// full and starts refusing configuration changes.
	ActionStorageFull Action = "storage-full"
	// ActionStorageOK is written when space has been freed after a full period.
	ActionStorageOK Action = "storage-ok"
	// ActionFailure reports a problem with the log itself, for example a
	// checksum error found at start-up.
	ActionFailure Action = "failure"
	// ActionRecovered is written at start-up after an unclean shutdown; its
	// details say how many bytes of torn tail were dropped.
	ActionRecovered Action = "recovered"
	// ActionLost says how many data-plane records were lost (queue full or
	// storage full) since the previous such record.
	ActionLost Action = "lost"
	// ActionDataPlaneDropped says how many data-plane records were dropped
	// because the log reached its data-plane share (Options.DataPlaneShare).
	ActionDataPlaneDropped Action = "data-plane-dropped"
	// ActionPrune records the removal of the oldest segments, with a signed
	// statement of the new start of the log.
	ActionPrune Action = "prune"
)

// Inspection actions (data plane, any inspected protocol; the same strings
// as the Modbus records of older logs).
const (
	// ActionWriteAllowed is an allowed write to a field device: a device
	// setting change that passed the conduit's policy.
	ActionWriteAllowed Action = "write-allowed"
	// ActionRequestDenied is a request the policy denied (or would have
	// denied in monitor mode; then DetailMode says "monitor").
	ActionRequestDenied Action = "request-denied"
	// ActionMalformedFrame is a framing error on an inspected connection.
	ActionMalformedFrame Action = "malformed-frame"
	// ActionConnectionRefused is an inspected connection refused by a
	// connection limit or because no conduit routes it.
	ActionConnectionRefused Action = "connection-refused"
	// ActionChannelOpened is an authenticated channel a client opened
	// through an inspected conduit (an OPC UA secure channel), with the
	// credentials it presented.
	ActionChannelOpened Action = "channel-opened"
)

// Network actions (data plane, CategoryNetwork). Like the aggregated
// inspection records they carry DetailCount, "first" and "last".
const (
	// ActionFlowDropped is packets the ruleset dropped (chain forward or
	// input) from one source.
	ActionFlowDropped Action = "flow-dropped"
	// ActionSpoofedSource is packets dropped because their source address
	// does not belong to the zone of their ingress interface.
	ActionSpoofedSource Action = "spoofed-source"
	// ActionEventsOverflow is the events of one interval that did not fit
	// in the aggregation table, counted together.
	ActionEventsOverflow Action = "events-overflow"
)

// Result is the outcome of the recorded action.
type Result string

// Results.
const (
	ResultSuccess Result = "success"
	ResultFailure Result = "failure"
	ResultDenied  Result = "denied"
)

// Detail keys used by the rest of the gateway. Keys are lower-case
// [a-z0-9_], at most 32 characters. Keys that look like they name a secret
// are refused (see ErrSecret).
const (
	DetailDigestBefore = "digest_before" // configuration digest before the change
	DetailDigestAfter  = "digest_after"  // configuration digest after the change
	DetailDiff         = "diff"          // short human-readable diff summary
	DetailReason       = "reason"
	DetailState        = "state" // e.g. island mode "on"/"off"
	DetailRole         = "role"
	DetailOldRole      = "old_role"
	DetailRemote       = "remote" // client address of a management session
	DetailSource       = "source"
	DetailDestination  = "destination"
	DetailConduit      = "conduit"
	DetailProtocol     = "protocol" // inspected protocol of a data-plane record ("modbus")
	DetailUnit         = "unit"
	DetailFunction     = "function"
	DetailAddresses    = "addresses"
	DetailValues       = "values"
	DetailMode         = "mode"
	DetailCount        = "count"
	DetailComment      = "comment" // the operator's comment on a change (push --comment)
	// DetailTruncated lists what the log shortened in a data-plane record,
	// as "name:length,..." (a detail key, or @actor, @object, @action,
	// @category, @result for the record's fields, with its original length
	// in bytes). Values are cut to 512 bytes, fields to 256, and the
	// longest values further when the record would exceed MaxPayloadBytes.
	DetailTruncated = "truncated"
	// DetailDroppedDetails counts details of a data-plane record that were
	// dropped: keys that are not [a-z0-9_]{1,32}, and details beyond 62.
	DetailDroppedDetails = "dropped_details"
)
