package zone

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// Proto is a transport protocol a conduit service names.
type Proto string

// Protocols a service may name.
const (
	TCP    Proto = "tcp"
	UDP    Proto = "udp"
	ICMP   Proto = "icmp"
	ICMPv6 Proto = "icmpv6"
)

// Service is one entry of a conduit's services: a protocol with an optional
// port range (tcp, udp) or message type (icmp, icmpv6). No port or type means
// the whole protocol.
type Service struct {
	Proto    Proto
	PortLo   uint16 // tcp/udp; 0 with PortHi 0 means every port
	PortHi   uint16
	ICMPType int // icmp/icmpv6; -1 means every type
}

// WholeProtocol reports whether the service allows every port or type.
func (s Service) WholeProtocol() bool {
	if s.Proto == ICMP || s.Proto == ICMPv6 {
		return s.ICMPType < 0
	}
	return s.PortLo == 0 && s.PortHi == 0
}

// HasPort reports whether a tcp/udp service covers port p.
func (s Service) HasPort(p uint16) bool {
	if s.Proto != TCP && s.Proto != UDP {
		return false
	}
	return s.WholeProtocol() || (p >= s.PortLo && p <= s.PortHi)
}

// String gives the canonical spelling, e.g. tcp/502, udp/100-200, icmp/echo-request.
func (s Service) String() string {
	switch s.Proto {
	case ICMP, ICMPv6:
		if s.ICMPType < 0 {
			return string(s.Proto)
		}
		return string(s.Proto) + "/" + ICMPTypeName(s.Proto, uint8(s.ICMPType))
	}
	if s.WholeProtocol() {
		return string(s.Proto)
	}
	// One allocation: this runs for every service of every conduit in
	// the canonical form and the lint rules.
	b := make([]byte, 0, 16)
	b = append(b, s.Proto...)
	b = append(b, '/')
	b = strconv.AppendUint(b, uint64(s.PortLo), 10)
	if s.PortHi != s.PortLo {
		b = append(b, '-')
		b = strconv.AppendUint(b, uint64(s.PortHi), 10)
	}
	return string(b)
}

// icmpTypes and icmpv6Types are the message type names nft understands.
var icmpTypes = map[string]uint8{
	"echo-reply":              0,
	"destination-unreachable": 3,
	"source-quench":           4,
	"redirect":                5,
	"echo-request":            8,
	"router-advertisement":    9,
	"router-solicitation":     10,
	"time-exceeded":           11,
	"parameter-problem":       12,
	"timestamp-request":       13,
	"timestamp-reply":         14,
	"info-request":            15,
	"info-reply":              16,
	"address-mask-request":    17,
	"address-mask-reply":      18,
}

var icmpv6Types = map[string]uint8{
	"destination-unreachable": 1,
	"packet-too-big":          2,
	"time-exceeded":           3,
	"parameter-problem":       4,
	"echo-request":            128,
	"echo-reply":              129,
	"mld-listener-query":      130,
	"mld-listener-report":     131,
	"nd-router-solicit":       133,
	"nd-router-advert":        134,
	"nd-neighbor-solicit":     135,
	"nd-neighbor-advert":      136,
	"nd-redirect":             137,
	"router-renumbering":      138,
	"mld2-listener-report":    143,
}

func icmpTable(p Proto) map[string]uint8 {
	if p == ICMPv6 {
		return icmpv6Types
	}
	return icmpTypes
}

// ICMPTypeName returns the nft name of an ICMP or ICMPv6 type, or its number.
func ICMPTypeName(p Proto, t uint8) string {
	for name, v := range icmpTable(p) {
		if v == t {
			return name
		}
	}
	return strconv.Itoa(int(t))
}

func icmpTypeNames(p Proto) []string {
	names := make([]string, 0, len(icmpTable(p)))
	for n := range icmpTable(p) {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// ParseService parses tcp, tcp/502, udp/100-200, icmp, icmp/echo-request,
// icmpv6/echo-request or a numeric ICMP type such as icmp/8.
func ParseService(s string) (Service, error) {
	proto, arg, hasArg := strings.Cut(strings.TrimSpace(s), "/")
	svc := Service{Proto: Proto(proto), ICMPType: -1}
	switch svc.Proto {
	case TCP, UDP:
		if !hasArg {
			return svc, nil
		}
		lo, hi, isRange := strings.Cut(arg, "-")
		a, err := parsePort(lo)
		if err != nil {
			return svc, fmt.Errorf("service %q: %v", s, err)
		}
		b := a
		if isRange {
			if b, err = parsePort(hi); err != nil {
				return svc, fmt.Errorf("service %q: %v", s, err)
			}
		}
		if a > b {
			return svc, fmt.Errorf("service %q: port range is inverted: write %s/%d-%d", s, proto, b, a)
		}
		svc.PortLo, svc.PortHi = a, b
		return svc, nil
	case ICMP, ICMPv6:
		if !hasArg {
			return svc, nil
		}
		if t, ok := icmpTable(svc.Proto)[arg]; ok {
			svc.ICMPType = int(t)
			return svc, nil
		}
		n, err := strconv.Atoi(arg)
		if err != nil || n < 0 || n > 255 {
			hint := ""
			if c := closest(arg, icmpTypeNames(svc.Proto)); c != "" {
				hint = fmt.Sprintf(": did you mean %s/%s?", proto, c)
			} else {
				hint = fmt.Sprintf(": use a number 0-255 or one of %s", strings.Join(icmpTypeNames(svc.Proto), ", "))
			}
			return svc, fmt.Errorf("service %q: unknown %s type %q%s", s, proto, arg, hint)
		}
		svc.ICMPType = n
		return svc, nil
	}
	hint := "write proto/port such as tcp/502, udp/100-200, icmp/echo-request or icmpv6/echo-request"
	if c := closest(proto, []string{"tcp", "udp", "icmp", "icmpv6"}); c != "" {
		hint = "did you mean " + c + "?"
	}
	return svc, fmt.Errorf("service %q: unknown protocol %q: %s", s, proto, hint)
}

func parsePort(s string) (uint16, error) {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil {
		return 0, fmt.Errorf("port %q is not a number", s)
	}
	if n < 1 || n > 65535 {
		return 0, fmt.Errorf("port %d is outside 1-65535", n)
	}
	return uint16(n), nil
}

// compareServices orders services for the canonical form.
func compareServices(a, b Service) int {
	if c := strings.Compare(string(a.Proto), string(b.Proto)); c != 0 {
		return c
	}
	if a.PortLo != b.PortLo {
		return int(a.PortLo) - int(b.PortLo)
	}
	if a.PortHi != b.PortHi {
		return int(a.PortHi) - int(b.PortHi)
	}
	return a.ICMPType - b.ICMPType
}
