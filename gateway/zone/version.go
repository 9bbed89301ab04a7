package zone

import "time"

// ModelVersion is one kept version of a gateway's zone model: its number,
// the digest of the model, who pushed or imported it, when and why, and
// what became of it (one of the Version* states). The version store keeps
// it, the change transactions move it between states, and the management
// API shows it in its own wire form.
type ModelVersion struct {
	Number  int
	Digest  string
	User    string
	Time    time.Time
	Comment string
	State   string
}

// The states of a model version.
const (
	VersionRunning    = "running"     // applied and confirmed
	VersionPending    = "pending"     // applied, waiting for confirmation
	VersionSuperseded = "superseded"  // ran before a later version
	VersionRolledBack = "rolled-back" // a pending change that was undone
	VersionRejected   = "rejected"    // could not be applied
)

// Pending is a pushed model version that undoes itself unless it is
// confirmed by Deadline.
type Pending struct {
	Version  int
	Previous int // the version that comes back; 0: there was no model before
	Deadline time.Time
	User     string // who pushed it
}
