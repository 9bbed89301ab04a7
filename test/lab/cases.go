package lab

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/zonegate/zonegate/gateway/zone"
	"github.com/zonegate/zonegate/protocols/modbus"
	"github.com/zonegate/zonegate/protocols/modbus/modbusrules"
)

// Case is one probe: a packet or connection from one host to another and
// whether the model says it passes.
type Case struct {
	From, To string // zone names
	Src, Dst *Host
	SrcAddr  netip.Addr // the source address used; for spoofed cases not the host's own
	DstAddr  netip.Addr
	Proto    zone.Proto // tcp, udp, icmp (echo) or icmpv6 (echo)
	Port     uint16     // tcp and udp
	Spoofed  bool
	Expect   bool
	Why      string
	// Inspected is set for tcp cases of an inspected conduit (`inspect:
	// modbus`, `inspect: opcua`): they pass only when the proxies run.
	Inspected bool
	// Modbus is set for a Modbus request sent through an inspected
	// conduit (Inspected is set too). Expect then says whether the
	// request should reach the device and its answer come back; Want
	// says exactly what the proxy should answer.
	Modbus *ModbusOp
	// OPCUA is set for an OPC UA exchange through a conduit with
	// `inspect: opcua` (Inspected is set too).
	OPCUA *OPCUAOp
	// Inspect is the `inspect:` value of the conduit of an Inspected
	// case: which fake device answers at its destination.
	Inspect string
	// TLS is set for a Modbus request over Modbus/TCP Security (a
	// conduit with modbus.tls): sent in TLS with a role's client
	// certificate, the fake PLC listening on the device port.
	TLS *ModbusTLS
}

// listenPort is where the case's receiver listens: the device port
// behind the gateway for Modbus/TCP Security, else the case's port.
func (c Case) listenPort() uint16 {
	if c.TLS != nil {
		return c.TLS.DevicePort
	}
	return c.Port
}

// Service describes the case's protocol and port as in the model.
func (c Case) Service() string {
	if c.Modbus != nil && c.TLS != nil {
		return "mbtls role " + c.TLS.Role + " " + strings.TrimPrefix(c.Modbus.String(), "modbus ")
	}
	if c.Modbus != nil {
		return c.Modbus.String()
	}
	if c.OPCUA != nil {
		return c.OPCUA.String()
	}
	if c.Proto == zone.TCP || c.Proto == zone.UDP {
		return fmt.Sprintf("%s/%d", c.Proto, c.Port)
	}
	return string(c.Proto) + "/echo-request"
}

// Family is 4 or 6.
func (c Case) Family() int { return family(c.DstAddr) }

// Cases generates the probes for a lab: every service of every conduit
// (expected to pass), and negative cases expected to be dropped: the
// reverse direction, the port next to each service, every zone pair
// without a conduit, and a spoofed source address per zone. For a
// conduit with `inspect: modbus` it adds two Modbus requests (see
// ModbusChecks): an allowed read and a denied write.
func (l *Lab) Cases() []Case {
	var out []Case
	seen := map[string]bool{}
	add := func(c Case) {
		key := fmt.Sprintf("%s|%s|%s|%s|%d|%v", c.Src.NS, c.SrcAddr, c.DstAddr, c.Proto, c.Port, c.Spoofed)
		if seen[key] {
			return
		}
		seen[key] = true
		if !c.Spoofed {
			c.Expect = l.Model.Allows(c.flow(), false)
		}
		out = append(out, c)
	}
	m := l.Model
	for _, cd := range m.Conduits {
		for _, fam := range []int{4, 6} {
			src, srcAddr, ok1 := l.pick(cd.From, cd.FromAssets, fam)
			dst, dstAddr, ok2 := l.pick(cd.To, cd.ToAssets, fam)
			if !ok1 || !ok2 {
				continue
			}
			for _, s := range cd.Services {
				c := Case{From: cd.From, To: cd.To, Src: src, Dst: dst, SrcAddr: srcAddr, DstAddr: dstAddr, Proto: s.Proto, Why: "conduit " + cd.Name}
				switch s.Proto {
				case zone.TCP, zone.UDP:
					c.Port = s.PortLo
					if s.WholeProtocol() {
						c.Port = 7 // any port stands for the whole protocol
					}
					c.Inspected = s.Proto == zone.TCP && cd.Inspected()
					if c.Inspected {
						c.Inspect = cd.Inspect
					}
					add(c)
					rev := c
					rev.From, rev.To, rev.Src, rev.Dst, rev.SrcAddr, rev.DstAddr = c.To, c.From, c.Dst, c.Src, c.DstAddr, c.SrcAddr
					rev.Why, rev.Inspected, rev.Inspect = "reverse of conduit "+cd.Name, false, ""
					add(rev)
					if !s.WholeProtocol() && s.PortHi < 65535 {
						next := c
						next.Port, next.Why, next.Inspected, next.Inspect = s.PortHi+1, "port next to conduit "+cd.Name, false, ""
						add(next)
					}
				case zone.ICMP, zone.ICMPv6:
					if (s.Proto == zone.ICMP) != (fam == 4) || !(s.WholeProtocol() || isEcho(s)) {
						continue
					}
					add(c)
				}
			}
		}
		out = append(out, l.modbusCases(cd)...)
		out = append(out, l.opcuaCases(cd)...)
	}
	out = append(out, l.pairCases(add)...)
	out = append(out, l.spoofCases()...)
	return out
}

func isEcho(s zone.Service) bool {
	return (s.Proto == zone.ICMP && s.ICMPType == 8) || (s.Proto == zone.ICMPv6 && s.ICMPType == 128)
}

// pairCases adds a tcp case for every ordered zone pair without a conduit.
func (l *Lab) pairCases(add func(Case)) []Case {
	has := map[[2]string]bool{}
	for _, cd := range l.Model.Conduits {
		has[[2]string{cd.From, cd.To}] = true
	}
	for _, a := range l.Model.Zones {
		for _, b := range l.Model.Zones {
			if a == b || has[[2]string{a.Name, b.Name}] {
				continue
			}
			for _, fam := range []int{4, 6} {
				src, sa, ok1 := l.pick(a.Name, nil, fam)
				dst, da, ok2 := l.pick(b.Name, nil, fam)
				if ok1 && ok2 {
					add(Case{From: a.Name, To: b.Name, Src: src, Dst: dst, SrcAddr: sa, DstAddr: da, Proto: zone.TCP, Port: 443, Why: "no conduit"})
				}
			}
		}
	}
	return nil
}

// spoofCases sends, for every conduit whose source side is a whole zone,
// the conduit's first tcp or udp service from an address outside that
// zone: only anti-spoofing stops it.
func (l *Lab) spoofCases() []Case {
	var out []Case
	done := map[string]bool{}
	for _, cd := range l.Model.Conduits {
		if len(cd.FromAssets) > 0 || done[cd.From] || cd.Inspect == modbusrules.Name {
			continue
		}
		for _, s := range cd.Services {
			if (s.Proto != zone.TCP && s.Proto != zone.UDP) || s.WholeProtocol() {
				continue
			}
			for _, fam := range []int{4, 6} {
				src, _, ok1 := l.pick(cd.From, nil, fam)
				dst, da, ok2 := l.pick(cd.To, cd.ToAssets, fam)
				spoof, ok3 := l.spoofAddr(cd.From, fam)
				if ok1 && ok2 && ok3 {
					done[cd.From] = true
					out = append(out, Case{From: cd.From, To: cd.To, Src: src, Dst: dst, SrcAddr: spoof, DstAddr: da,
						Proto: s.Proto, Port: s.PortLo, Spoofed: true, Why: "spoofed source on conduit " + cd.Name})
				}
			}
			break
		}
	}
	return out
}

// spoofAddr picks an address outside zoneName: a free address in another
// zone's network of the same family.
func (l *Lab) spoofAddr(zoneName string, fam int) (netip.Addr, bool) {
	for _, z := range l.Model.Zones {
		if z.Name == zoneName {
			continue
		}
		for _, n := range z.Networks {
			if family(n.Addr()) != fam {
				continue
			}
			a := n.Masked().Addr()
			for i := 0; i < 200 && n.Contains(a); i++ {
				a = a.Next()
			}
			if n.Contains(a) && l.Model.ZoneOfAddr(a) != nil && !l.isUsed(a) {
				return a, true
			}
		}
	}
	return netip.Addr{}, false
}

func (l *Lab) isUsed(a netip.Addr) bool {
	for _, h := range l.allHosts() {
		if slices.Contains(h.Addrs, a) {
			return true
		}
	}
	return false
}

func (l *Lab) allHosts() []*Host {
	var hs []*Host
	for _, h := range l.Zones {
		hs = append(hs, h)
	}
	for _, h := range l.Assets {
		hs = append(hs, h)
	}
	return hs
}

// pick returns a host for one side of a conduit: the first listed asset of
// the family, or the zone's host.
func (l *Lab) pick(zoneName string, assets []string, fam int) (*Host, netip.Addr, bool) {
	if len(assets) > 0 {
		for _, name := range assets {
			if h := l.Assets[name]; h != nil {
				if a, ok := h.Addr(fam); ok {
					return h, a, true
				}
			}
		}
		return nil, netip.Addr{}, false
	}
	h := l.Zones[zoneName]
	if h == nil {
		return nil, netip.Addr{}, false
	}
	a, ok := h.Addr(fam)
	return h, a, ok
}

func (c Case) flow() zone.Flow {
	f := zone.Flow{Src: c.SrcAddr, Dst: c.DstAddr, DstPort: c.Port}
	switch c.Proto {
	case zone.TCP:
		f.Proto = unix.IPPROTO_TCP
	case zone.UDP:
		f.Proto = unix.IPPROTO_UDP
	case zone.ICMP:
		f.Proto = unix.IPPROTO_ICMP
	case zone.ICMPv6:
		f.Proto = unix.IPPROTO_ICMPV6
	}
	return f
}

// firstTCPPort is the conduit's first tcp port (whole when the service
// is the whole protocol), or 0 when it has no tcp service.
func firstTCPPort(cd *zone.Conduit, whole uint16) uint16 {
	for _, s := range cd.Services {
		if s.Proto == zone.TCP {
			if s.WholeProtocol() {
				return whole
			}
			return s.PortLo
		}
	}
	return 0
}

// modbusCases returns the Modbus requests for an inspected conduit, per
// address family both sides have, sent to the conduit's first tcp port.
func (l *Lab) modbusCases(cd *zone.Conduit) []Case {
	if cd.Inspect != modbusrules.Name {
		return nil
	}
	port := firstTCPPort(cd, 502)
	if port == 0 {
		return nil
	}
	spec := ModbusSpec(cd)
	var secure *ModbusTLS
	if spec != nil && spec.Security != nil {
		// Modbus/TCP Security: the requests go in TLS to tcp/802, with
		// the rules of the role whose certificate the probe has.
		var err error
		if secure, spec, err = secureClient(spec); err != nil {
			return nil
		}
		port = modbus.SecurePort
	}
	read, write, _ := ModbusChecks(cd.Name, spec)
	var out []Case
	for _, fam := range []int{4, 6} {
		src, srcAddr, ok1 := l.pick(cd.From, cd.FromAssets, fam)
		dst, dstAddr, ok2 := l.pick(cd.To, cd.ToAssets, fam)
		if !ok1 || !ok2 {
			continue
		}
		for _, op := range []*ModbusOp{read, write} {
			if op == nil {
				continue
			}
			out = append(out, Case{From: cd.From, To: cd.To, Src: src, Dst: dst, SrcAddr: srcAddr, DstAddr: dstAddr,
				Proto: zone.TCP, Port: port, Inspected: true, Modbus: op, Expect: op.Want == WantResponse, Why: op.Reason, TLS: secure})
		}
	}
	return out
}
