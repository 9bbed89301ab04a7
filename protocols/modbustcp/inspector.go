package modbustcp

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/zonegate/zonegate/protocols/inspect"
	"github.com/zonegate/zonegate/protocols/modbus"
	"github.com/zonegate/zonegate/protocols/modbus/modbusrules"
	"github.com/zonegate/zonegate/protocols/proxy"
)

// Inspector is Modbus/TCP under the daemon's protocol-neutral contract:
// what the gateway registers for `inspect: modbus`.
type Inspector struct{}

var _ proxy.Inspector = Inspector{}

// Protocol implements proxy.Inspector: the name, title and default port
// that Modbus's model side declares (modbusrules.Protocol).
func (Inspector) Protocol() inspect.Protocol { return modbusrules.Protocol.Protocol }

// Compile implements proxy.Inspector: rules is the conduit's *modbus.Spec.
func (Inspector) Compile(rules any) (proxy.Policy, error) {
	spec, ok := rules.(*modbus.Spec)
	if !ok || spec == nil {
		return nil, fmt.Errorf("modbus inspector: the conduit's rules are %T, not a *modbus.Spec: the conduit needs a `modbus:` block", rules)
	}
	p, err := modbus.Compile(*spec)
	if err != nil {
		return nil, err
	}
	if spec.Security == nil {
		return p, nil
	}
	return compileSecure(spec, p)
}

// NewProxy implements proxy.Inspector.
func (Inspector) NewProxy(cfg proxy.Config) (proxy.Proxy, error) { return proxy.New(cfg, Codec{}) }

// maxValues bounds the written values in one write's details.
const maxValues = 64

// Details implements proxy.Codec: unit, function, the addresses written
// and the values (the first 64, then "(N values, 64 shown)").
func (Codec) Details(ev *inspect.Event) map[string]string {
	if ev.Kind == inspect.Opened {
		return openedDetails(ev)
	}
	data := ev.Bytes()
	if len(data) < 2 {
		return nil
	}
	pdu := data[1:]
	f := make(modbus.Frame, modbus.MBAPHeaderLen+len(pdu))
	f[5] = byte(1 + len(pdu)) // length field; transaction and protocol ids 0
	f[6] = data[0]
	copy(f[modbus.MBAPHeaderLen:], pdu)
	d := map[string]string{"unit": strconv.Itoa(int(f.Unit())), "function": strconv.Itoa(int(f.Function()))}
	var req modbus.Request
	if modbus.ParseRequest(f, &req) == nil {
		d["addresses"] = span(req.WriteAddress, req.WriteQuantity)
		if vals := values(&req); vals != "" {
			d["values"] = vals
		}
	}
	if ev.Role != "" {
		d["role"] = ev.Role // the role that allowed the write (Modbus/TCP Security)
	}
	return d
}

// values lists the written values: all of them, or the first maxValues
// followed by " (N values, 64 shown)" so that the cut is visible.
func values(r *modbus.Request) string {
	var b strings.Builder
	n := 0
	for _, v := range r.Values() {
		if n == maxValues {
			break
		}
		if n > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.Itoa(int(v)))
		n++
	}
	if int(r.WriteQuantity) > n {
		b.WriteString(" (" + strconv.Itoa(int(r.WriteQuantity)) + " values, " + strconv.Itoa(n) + " shown)")
	}
	return b.String()
}

// span formats n addresses from first: "7" or "10-19".
func span(first, n uint16) string {
	if n <= 1 {
		return strconv.Itoa(int(first))
	}
	return strconv.Itoa(int(first)) + "-" + strconv.Itoa(int(first)+int(n)-1)
}
