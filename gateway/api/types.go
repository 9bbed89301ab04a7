// Package api is the one definition of zonegate's management API: the
// JSON wire types of every request and answer, the paths, and a Client
// that calls the API over the daemon's Unix socket. The daemon's HTTP
// server (package gateway/httpapi), the zonegate CLI and the end-to-end
// tests all use these types, so the wire format is written down once.
//
// The package depends on the standard library and on the zone model,
// whose types (model versions, a pending change) it turns into their wire
// form (convert.go).
package api

import (
	"strings"
	"time"
)

// Paths of the API. Every path but Init and Login needs
// "Authorization: Bearer TOKEN" from Login.
const (
	PathInit     = "/v1/init"     // POST Credentials -> 201 InitResult
	PathLogin    = "/v1/login"    // POST Credentials -> LoginResult
	PathLogout   = "/v1/logout"   // POST -> LogoutResult
	PathStatus   = "/v1/status"   // GET -> Status
	PathHistory  = "/v1/history"  // GET -> []ModelVersion
	PathModel    = "/v1/model"    // GET -> RunningModel (404 while no model runs)
	PathPush     = "/v1/push"     // POST PushRequest -> PushResult
	PathConfirm  = "/v1/confirm"  // POST -> ModelVersion
	PathRollback = "/v1/rollback" // POST RollbackRequest -> RollbackResult
	PathIsland   = "/v1/island"   // POST IslandRequest -> IslandResult
	PathPassword = "/v1/password" // POST PasswordRequest -> PasswordResult
	PathUsers    = "/v1/users"    // GET -> []User; POST UserRequest -> 201 UserResult
	// PathEvents: GET ?since=SEQ&wait=DURATION -> EventsResult (aggregated
	// data-plane events newer than SEQ; wait up to DURATION, at most
	// MaxEventsWait, for one to come).
	PathEvents = "/v1/events"
	// DELETE PathUsers/NAME -> DeleteResult; POST PathUsers/NAME/ACTION
	// (UserRequest for role and reset) -> UserActionResult.
)

// User actions of POST /v1/users/NAME/ACTION.
const (
	ActionDisable = "disable"
	ActionEnable  = "enable"
	ActionUnlock  = "unlock"
	ActionRole    = "role"  // UserRequest.Role
	ActionReset   = "reset" // UserRequest.Password, MustChange
)

// Credentials is the body of init and login.
type Credentials struct {
	User     string `json:"user"`
	Password string `json:"password"`
}

// InitResult answers init: the first administrator.
type InitResult struct {
	User string `json:"user"`
	Role string `json:"role"`
}

// LoginResult answers login with a session token.
type LoginResult struct {
	Token   string    `json:"token"`
	Expires time.Time `json:"expires"`
}

// LogoutResult answers logout.
type LogoutResult struct {
	LoggedOut string `json:"logged_out"`
}

// PushRequest is the body of push.
type PushRequest struct {
	Model   string `json:"model"`
	Comment string `json:"comment"`
	// ConfirmWithin is a Go duration from 0 to 24h; empty: the settings'
	// default; "0": confirm at once.
	ConfirmWithin string `json:"confirm_within"`
}

// PushResult says what a push did.
type PushResult struct {
	Version   int       `json:"version"`
	Digest    string    `json:"digest"`
	Unchanged bool      `json:"unchanged,omitempty"`
	Diff      []string  `json:"diff"`
	Deadline  time.Time `json:"deadline,omitempty"` // zero when confirmed at once
	Warnings  []string  `json:"warnings,omitempty"`
}

// ModelVersion is one kept model version (history, confirm).
type ModelVersion struct {
	Number  int       `json:"version"`
	Digest  string    `json:"digest"`
	User    string    `json:"user"`
	Time    time.Time `json:"time"`
	Comment string    `json:"comment,omitempty"`
	// State is "running", "pending" (applied, waiting for confirm),
	// "superseded", "rolled-back" (a pending change that was undone) or
	// "rejected" (could not be applied).
	State string `json:"state"`
}

// Pending is a pushed model that undoes itself unless confirmed in time.
type Pending struct {
	Version  int       `json:"version"`
	Previous int       `json:"previous"` // 0: there was no model before
	Deadline time.Time `json:"deadline"`
	User     string    `json:"user"`
}

// RollbackRequest is the body of rollback; Version 0 undoes the pending
// change.
type RollbackRequest struct {
	Version int `json:"version"`
}

// RollbackResult names the version that runs now (0: none, island mode).
type RollbackResult struct {
	Version int `json:"version"`
}

// IslandRequest is the body of island.
type IslandRequest struct {
	On bool `json:"on"`
}

// IslandResult answers island.
type IslandResult struct {
	Island bool `json:"island"`
}

// PasswordRequest changes the caller's own password.
type PasswordRequest struct {
	Old string `json:"old"`
	New string `json:"new"`
}

// PasswordResult answers a password change.
type PasswordResult struct {
	User string `json:"user"`
}

// User is an account as the API shows it.
type User struct {
	Name               string    `json:"name"`
	Role               string    `json:"role"`
	Disabled           bool      `json:"disabled"`
	Locked             bool      `json:"locked"`
	LockedUntil        time.Time `json:"locked_until,omitempty"`
	MustChangePassword bool      `json:"must_change_password"`
	Created            time.Time `json:"created"`
	PasswordChanged    time.Time `json:"password_changed"`
}

// UserRequest is the body of adding a user (all fields), of the role
// action (Role) and of the reset action (Password, MustChange).
type UserRequest struct {
	Name       string `json:"name,omitempty"`
	Role       string `json:"role,omitempty"`
	Password   string `json:"password,omitempty"`
	MustChange bool   `json:"must_change,omitempty"`
}

// UserResult answers adding a user.
type UserResult struct {
	User string `json:"user"`
	Role string `json:"role"`
}

// DeleteResult answers deleting a user.
type DeleteResult struct {
	Deleted string `json:"deleted"`
}

// UserActionResult answers a user action.
type UserActionResult struct {
	User string `json:"user"`
	Done string `json:"done"`
	// Unchanged is true when the account already was that way (a role
	// change to the role it has): nothing changed, nothing was recorded.
	Unchanged bool `json:"unchanged,omitempty"`
}

// RunningModel is the running model version's text (GET /v1/model).
type RunningModel struct {
	Version int    `json:"version"`
	Digest  string `json:"digest"`
	Model   string `json:"model"` // the YAML as pushed
}

// Status is what `zonegate status` shows.
type Status struct {
	Gateway      string        `json:"gateway"`
	Version      int           `json:"version"`
	Digest       string        `json:"digest"`
	Pending      *Pending      `json:"pending,omitempty"`
	Island       bool          `json:"island"`
	IslandReason string        `json:"island_reason,omitempty"`
	Counters     []Counter     `json:"counters"`
	Modbus       []ModbusCount `json:"modbus"`
	// Inspected are the request counters of the other inspected
	// protocols (OPC UA).
	Inspected []InspectedCount `json:"inspected,omitempty"`
	Audit     *AuditStats      `json:"audit,omitempty"` // nil: the audit log is unavailable
	Drift     DriftStats       `json:"drift"`
	Sessions  int              `json:"sessions"`
	// Console is the web console; nil while it is off.
	Console *ConsoleStatus `json:"console,omitempty"`
	// ModbusTLS are the certificates of Modbus/TCP Security conduits
	// (the gateway's own, the client CAs) and their CRLs, soonest expiry
	// first.
	ModbusTLS []TLSCertificate `json:"modbus_tls,omitempty"`
	// TLSSessions is the number of open Modbus/TCP Security sessions.
	TLSSessions int `json:"tls_sessions,omitempty"`
}

// TLSCertificate is a certificate a Modbus/TCP Security conduit relies
// on.
type TLSCertificate struct {
	Conduit  string    `json:"conduit"`
	Kind     string    `json:"kind"`    // certificate (the gateway's) | client_ca | crl
	Subject  string    `json:"subject"` // of a crl: its issuer
	File     string    `json:"file,omitempty"`
	NotAfter time.Time `json:"not_after"` // of a crl: its next update
	// ExpiresSoon: it expires within 30 days (a CRL: its next update is
	// within 7 days), or has expired.
	ExpiresSoon bool `json:"expires_soon"`
}

// ConsoleStatus says where the web console listens and how to recognise
// its certificate.
type ConsoleStatus struct {
	URL string `json:"url"`
	// Fingerprint is the SHA-256 of the console's certificate, as
	// browsers show it (upper-case hex bytes separated by colons).
	Fingerprint string    `json:"fingerprint"`
	SelfSigned  bool      `json:"self_signed"`
	Certificate string    `json:"certificate"` // the certificate's file
	NotAfter    time.Time `json:"not_after"`
}

// Counter is one named nftables counter of table inet zonegate.
type Counter struct {
	Name    string `json:"name"`
	Packets uint64 `json:"packets"`
	Bytes   uint64 `json:"bytes"`
}

// InspectedCount is one non-zero request counter of the proxy of an
// inspected protocol other than Modbus (whose counters stay in Modbus).
type InspectedCount struct {
	Protocol string `json:"protocol"`
	Conduit  string `json:"conduit"`
	Function string `json:"function"` // the request type's name (OPC UA: the service, or HEL, OPN, CLO, encrypted)
	Verdict  string `json:"verdict"`
	Count    uint64 `json:"count"`
}

// ModbusCount is one non-zero request counter of the Modbus proxy.
type ModbusCount struct {
	Conduit  string `json:"conduit"`
	Function int    `json:"function"`
	Verdict  string `json:"verdict"`
	Count    uint64 `json:"count"`
}

// AuditStats describes the audit log. Its JSON keys are the field names.
type AuditStats struct {
	Seq      uint64 // last durable sequence number
	Segment  uint64 // current segment number
	Used     int64  // bytes in segment files
	Capacity int64  // usable bytes
	Percent  int    // Used/Capacity in percent
	Full     bool   // configuration changes are being refused
	// FullReason says why (which limit, how much, what to do) while Full.
	FullReason string `json:",omitempty"`
	// Limit is the limit that bounds the log now: "max_size", or
	// "filesystem" when the filesystem has less room than audit.max_size.
	Limit string `json:",omitempty"`
	// Room is how many more bytes records may use before changes are
	// refused, under whichever limit comes first.
	Room int64
	// StorageWarning is set while the storage warning is active.
	StorageWarning string `json:",omitempty"`
	Lost           uint64 // data-plane records lost since the daemon started
	// LostBestEffort counts records that happen anyway (service stop,
	// refused calls, the log's own notices) and could not be written.
	LostBestEffort uint64
	// DataPlaneDropped counts data-plane records dropped since the daemon
	// started because the log reached audit.data_plane_share.
	DataPlaneDropped uint64
	// DataPlaneUsed is the bytes of data-plane records in the log.
	DataPlaneUsed int64
	// DataPlaneLimit is the most bytes data-plane records may occupy
	// (audit.data_plane_share of the capacity less the reserve).
	DataPlaneLimit int64
	QueueLen       int    // data-plane records waiting
	Checkpoint     uint64 // sequence number covered by the latest signed checkpoint
}

// DriftStats describes the drift watcher.
type DriftStats struct {
	Checks   uint64    `json:"checks"`
	Detected uint64    `json:"detected"`
	Last     time.Time `json:"last_detected,omitempty"`
}

// Error is the body of every error answer. The server sends Status as the
// HTTP status; the Client fills it in from the answer.
type Error struct {
	Status      int      `json:"-"`
	Message     string   `json:"error"`
	Diagnostics []string `json:"diagnostics,omitempty"` // FILE:LINE:COLUMN problems of a refused model
}

// Error is the message followed by the diagnostics, one per line.
func (e *Error) Error() string {
	if len(e.Diagnostics) == 0 {
		return e.Message
	}
	return e.Message + "\n" + strings.Join(e.Diagnostics, "\n")
}

// MaxEventsWait bounds the wait of GET /v1/events.
const MaxEventsWait = time.Minute

// EventsResult answers GET /v1/events.
type EventsResult struct {
	// Last is the sequence number of the newest event; pass it as since
	// to get only newer ones.
	Last uint64 `json:"last"`
	// Interval is the aggregation interval (events.interval).
	Interval string `json:"interval"`
	// Events are oldest first. Events older than the daemon's ring (the
	// last 1024) are gone from here; the audit log keeps the security
	// ones.
	Events []Event `json:"events"`
}

// Event is what one key (kind, source address, conduit or zone, reason)
// did in one aggregation interval.
type Event struct {
	Seq uint64 `json:"seq"`
	// Kind: denied, malformed, refused (inspected connections), failure
	// (device unreachable or silent; not a security event),
	// dropped-flow, spoofed (packets the ruleset dropped), other (events
	// beyond the aggregation table's size, counted together).
	Kind     string    `json:"kind"`
	Count    uint64    `json:"count"`
	First    time.Time `json:"first"`
	Last     time.Time `json:"last"`
	Protocol string    `json:"protocol,omitempty"` // modbus; tcp, udp, icmp, icmpv6, sctp, ip
	Source   string    `json:"source"`             // address
	// Destination is the first event's destination (address:port).
	Destination string `json:"destination,omitempty"`
	// Ports are the lowest and highest destination port: "23", "1-1024".
	Ports     string `json:"ports,omitempty"`
	Conduit   string `json:"conduit,omitempty"`
	Zone      string `json:"zone,omitempty"`      // ingress zone of dropped packets
	Interface string `json:"interface,omitempty"` // ingress interface of dropped packets
	Chain     string `json:"chain,omitempty"`     // forward, input, spoofed, lockdown-forward
	Reason    string `json:"reason,omitempty"`
	Sample    string `json:"sample,omitempty"` // the first event: request or packet summary
	Monitor   bool   `json:"monitor,omitempty"`
	// OtherDestinations counts events to another destination address
	// than Destination.
	OtherDestinations uint64 `json:"other_destinations,omitempty"`
}
