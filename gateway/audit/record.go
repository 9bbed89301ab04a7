package audit

import "time"

// Record is one audit event as the caller describes it. The log adds the
// sequence number, boot ID and gateway name.
type Record struct {
	// Time of the event; zero means "now" (taken when Append or Enqueue is
	// called). Stored in UTC with microseconds.
	Time time.Time
	// Actor is the user name for management actions, or the client address
	// ("198.18.0.10:50122") for data-plane events.
	Actor    string
	Category Category
	Action   Action
	// Object is what the action applies to: "user:alice", "model",
	// "settings", "plc-1:502 unit 1".
	Object string
	Result Result
	// Details holds extra facts as key/value strings. Never put a password,
	// hash, key or token here: such keys are refused (ErrSecret).
	Details map[string]string
}

// Entry is a record as stored in the log.
type Entry struct {
	Seq     uint64
	BootID  string
	Gateway string
	Record
	// Hash is the record's chain hash (see the package documentation).
	Hash [32]byte
}

// ConfigChange builds a configuration record with the digests before and
// after the change and a short diff summary.
func ConfigChange(actor string, action Action, object string, result Result, before, after, diff string) Record {
	d := map[string]string{}
	if before != "" {
		d[DetailDigestBefore] = before
	}
	if after != "" {
		d[DetailDigestAfter] = after
	}
	if diff != "" {
		d[DetailDiff] = diff
	}
	return Record{Actor: actor, Category: CategoryConfig, Action: action, Object: object, Result: result, Details: d}
}

// AccountEvent builds an account record; object names the account
// ("user:alice"). details may be nil.
func AccountEvent(actor string, action Action, account string, result Result, details map[string]string) Record {
	return Record{Actor: actor, Category: CategoryAccount, Action: action, Object: "user:" + account, Result: result, Details: details}
}

// InspectedEvent describes one request of an inspected protocol seen by
// that protocol's proxy.
type InspectedEvent struct {
	Protocol    string // "modbus"
	Source      string // client address
	Destination string // original destination address
	Conduit     string
	Reason      string // why it was denied
	Monitor     bool   // monitor mode: logged, not enforced
	// Details are the protocol's own fields (Modbus: unit, function,
	// addresses, values); keys follow the detail key rules. They cannot
	// override the fields above.
	Details map[string]string
}

// InspectedWrite builds the record of an allowed write (a device setting
// change).
func InspectedWrite(e InspectedEvent) Record {
	return inspectedRecord(ActionWriteAllowed, ResultSuccess, e)
}

// InspectedChannelOpened builds the record of an authenticated channel a
// client opened (an OPC UA secure channel: certificate subject,
// fingerprint, security policy in the details).
func InspectedChannelOpened(e InspectedEvent) Record {
	return inspectedRecord(ActionChannelOpened, ResultSuccess, e)
}

// InspectedDenied builds the record of a denied request.
func InspectedDenied(e InspectedEvent) Record {
	return inspectedRecord(ActionRequestDenied, ResultDenied, e)
}

func inspectedRecord(a Action, r Result, e InspectedEvent) Record {
	d := make(map[string]string, len(e.Details)+6)
	for k, v := range e.Details {
		d[k] = v
	}
	d[DetailProtocol] = e.Protocol
	d[DetailSource] = e.Source
	d[DetailDestination] = e.Destination
	d[DetailConduit] = e.Conduit
	delete(d, DetailReason)
	delete(d, DetailMode)
	if e.Reason != "" {
		d[DetailReason] = e.Reason
	}
	if e.Monitor {
		d[DetailMode] = "monitor"
	}
	return Record{Actor: e.Source, Category: CategoryInspection, Action: a, Object: e.Destination, Result: r, Details: d}
}
