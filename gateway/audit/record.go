package audit

import (
	"strconv"
	"strings"
	"time"
)

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

// ModbusEvent describes one Modbus request seen by the proxy.
type ModbusEvent struct {
	Source      string // client address
	Destination string // original destination address
	Conduit     string
	Unit        uint8
	Function    uint8
	Addresses   string   // "10-19" (zero-based PDU addresses)
	Values      []uint16 // written values, if any
	Reason      string   // why it was denied
	Monitor     bool     // monitor mode: logged, not enforced
}

// maxValuesInRecord bounds how many written values a record lists.
const maxValuesInRecord = 64

// ModbusWrite builds the record of an allowed write (a device setting change).
func ModbusWrite(e ModbusEvent) Record {
	return modbusRecord(ActionModbusWrite, ResultSuccess, e)
}

// ModbusDenied builds the record of a denied request.
func ModbusDenied(e ModbusEvent) Record {
	return modbusRecord(ActionModbusDenied, ResultDenied, e)
}

func modbusRecord(a Action, r Result, e ModbusEvent) Record {
	d := map[string]string{
		DetailSource:      e.Source,
		DetailDestination: e.Destination,
		DetailConduit:     e.Conduit,
		DetailUnit:        strconv.Itoa(int(e.Unit)),
		DetailFunction:    strconv.Itoa(int(e.Function)),
	}
	if e.Addresses != "" {
		d[DetailAddresses] = e.Addresses
	}
	if len(e.Values) > 0 {
		var b strings.Builder
		for i, v := range e.Values {
			if i == maxValuesInRecord {
				b.WriteString(",…(" + strconv.Itoa(len(e.Values)) + " values)")
				break
			}
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(strconv.Itoa(int(v)))
		}
		d[DetailValues] = b.String()
	}
	if e.Reason != "" {
		d[DetailReason] = e.Reason
	}
	if e.Monitor {
		d[DetailMode] = "monitor"
	}
	return Record{Actor: e.Source, Category: CategoryModbus, Action: a, Object: e.Destination, Result: r, Details: d}
}
