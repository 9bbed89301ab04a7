package zone

import (
	"slices"
	"strconv"
	"strings"
	"testing"
)

func TestParseService(t *testing.T) {
	tests := []struct {
		in   string
		want Service
		str  string // canonical spelling
	}{
		{"tcp", Service{Proto: TCP, ICMPType: -1}, "tcp"},
		{"udp", Service{Proto: UDP, ICMPType: -1}, "udp"},
		{"tcp/502", Service{Proto: TCP, PortLo: 502, PortHi: 502, ICMPType: -1}, "tcp/502"},
		{"udp/100-200", Service{Proto: UDP, PortLo: 100, PortHi: 200, ICMPType: -1}, "udp/100-200"},
		{"tcp/1-65535", Service{Proto: TCP, PortLo: 1, PortHi: 65535, ICMPType: -1}, "tcp/1-65535"},
		{"tcp/65535", Service{Proto: TCP, PortLo: 65535, PortHi: 65535, ICMPType: -1}, "tcp/65535"},
		{"tcp/1", Service{Proto: TCP, PortLo: 1, PortHi: 1, ICMPType: -1}, "tcp/1"},
		{"tcp/443-443", Service{Proto: TCP, PortLo: 443, PortHi: 443, ICMPType: -1}, "tcp/443"},
		{" tcp/502 ", Service{Proto: TCP, PortLo: 502, PortHi: 502, ICMPType: -1}, "tcp/502"},
		{"tcp/ 100 - 200", Service{Proto: TCP, PortLo: 100, PortHi: 200, ICMPType: -1}, "tcp/100-200"},
		{"tcp/0502", Service{Proto: TCP, PortLo: 502, PortHi: 502, ICMPType: -1}, "tcp/502"},
		{"icmp", Service{Proto: ICMP, ICMPType: -1}, "icmp"},
		{"icmpv6", Service{Proto: ICMPv6, ICMPType: -1}, "icmpv6"},
		{"icmp/echo-request", Service{Proto: ICMP, ICMPType: 8}, "icmp/echo-request"},
		{"icmp/8", Service{Proto: ICMP, ICMPType: 8}, "icmp/echo-request"},
		{"icmp/0", Service{Proto: ICMP, ICMPType: 0}, "icmp/echo-reply"},
		{"icmp/254", Service{Proto: ICMP, ICMPType: 254}, "icmp/254"},
		{"icmp/255", Service{Proto: ICMP, ICMPType: 255}, "icmp/255"},
		{"icmpv6/echo-request", Service{Proto: ICMPv6, ICMPType: 128}, "icmpv6/echo-request"},
		{"icmpv6/1", Service{Proto: ICMPv6, ICMPType: 1}, "icmpv6/destination-unreachable"},
		{"icmpv6/8", Service{Proto: ICMPv6, ICMPType: 8}, "icmpv6/8"},
		{"icmpv6/nd-neighbor-solicit", Service{Proto: ICMPv6, ICMPType: 135}, "icmpv6/nd-neighbor-solicit"},
		{"icmp/destination-unreachable", Service{Proto: ICMP, ICMPType: 3}, "icmp/destination-unreachable"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseService(tt.in)
			if err != nil {
				t.Fatalf("ParseService(%q): %v", tt.in, err)
			}
			if got != tt.want {
				t.Errorf("ParseService(%q) = %+v, want %+v", tt.in, got, tt.want)
			}
			if s := got.String(); s != tt.str {
				t.Errorf("String() = %q, want %q", s, tt.str)
			}
			back, err := ParseService(got.String())
			if err != nil || back != got {
				t.Errorf("round trip of %q: %+v, %v", got.String(), back, err)
			}
		})
	}
}

func TestParseServiceErrors(t *testing.T) {
	tests := []struct{ in, phrase string }{
		{"tcp/0", `service "tcp/0": port 0 is outside 1-65535`},
		{"tcp/70000", "port 70000 is outside 1-65535"},
		{"tcp/65536", "port 65536 is outside 1-65535"},
		{"tcp/-1", `port "" is not a number`},
		{"udp/200-100", `service "udp/200-100": port range is inverted: write udp/100-200`},
		{"udp/100-", `port "" is not a number`},
		{"udp/1-2-3", `port "2-3" is not a number`},
		{"tcp/abc", `port "abc" is not a number`},
		{"tcp/", `port "" is not a number`},
		{"tcp/502/503", `port "502/503" is not a number`},
		{"tcp/0x1f6", `port "0x1f6" is not a number`},
		{"icmp/echo-requst", `unknown icmp type "echo-requst": did you mean icmp/echo-request?`},
		{"icmpv6/echo-requets", "did you mean icmpv6/echo-request?"},
		{"icmpv6/bogus", `unknown icmpv6 type "bogus": use a number 0-255 or one of destination-unreachable, echo-reply,`},
		{"icmp/256", `unknown icmp type "256"`},
		{"icmp/-1", `unknown icmp type "-1"`},
		{"icmp/", `unknown icmp type ""`},
		{"icmpv6/router-advertisement", `unknown icmpv6 type "router-advertisement"`}, // that is the ICMPv4 name
		{"sctp/1", `service "sctp/1": unknown protocol "sctp": did you mean tcp?`},
		{"TCP/502", `unknown protocol "TCP"`},
		{"udpp/53", "did you mean udp?"},
		{"icm/8", "did you mean icmp?"},
		{"gre", `unknown protocol "gre": write proto/port such as tcp/502`},
		{"", `unknown protocol ""`},
		{"/502", `unknown protocol ""`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			_, err := ParseService(tt.in)
			if err == nil {
				t.Fatalf("ParseService(%q) succeeded", tt.in)
			}
			if !strings.Contains(err.Error(), tt.phrase) {
				t.Errorf("ParseService(%q) = %q, want it to contain %q", tt.in, err, tt.phrase)
			}
		})
	}
}

func TestServiceRoundTripAllICMPTypes(t *testing.T) {
	for _, p := range []Proto{ICMP, ICMPv6} {
		for typ := 0; typ <= 255; typ++ {
			s := Service{Proto: p, ICMPType: typ}
			back, err := ParseService(s.String())
			if err != nil || back != s {
				t.Errorf("%s type %d: String %q parses to %+v, %v", p, typ, s.String(), back, err)
			}
			if byNumber, err := ParseService(string(p) + "/" + strconv.Itoa(typ)); err != nil || byNumber != s {
				t.Errorf("%s/%d parses to %+v, %v", p, typ, byNumber, err)
			}
		}
	}
}

func TestServiceRoundTripPorts(t *testing.T) {
	ports := []uint16{1, 2, 21, 80, 443, 502, 1023, 1024, 4840, 20000, 32767, 32768, 65534, 65535}
	for _, p := range []Proto{TCP, UDP} {
		for _, lo := range ports {
			for _, hi := range ports {
				if hi < lo {
					continue
				}
				s := Service{Proto: p, PortLo: lo, PortHi: hi, ICMPType: -1}
				back, err := ParseService(s.String())
				if err != nil || back != s {
					t.Errorf("%+v: String %q parses to %+v, %v", s, s.String(), back, err)
				}
			}
		}
	}
}

func TestICMPTypeName(t *testing.T) {
	tests := []struct {
		p    Proto
		t    uint8
		want string
	}{
		{ICMP, 8, "echo-request"},
		{ICMP, 0, "echo-reply"},
		{ICMP, 11, "time-exceeded"},
		{ICMP, 200, "200"},
		{ICMPv6, 128, "echo-request"},
		{ICMPv6, 3, "time-exceeded"},
		{ICMPv6, 8, "8"},
		{ICMPv6, 143, "mld2-listener-report"},
	}
	for _, tt := range tests {
		if got := ICMPTypeName(tt.p, tt.t); got != tt.want {
			t.Errorf("ICMPTypeName(%s, %d) = %q, want %q", tt.p, tt.t, got, tt.want)
		}
	}
}

func mustService(t *testing.T, s string) Service {
	t.Helper()
	svc, err := ParseService(s)
	if err != nil {
		t.Fatal(err)
	}
	return svc
}

func TestServiceHasPort(t *testing.T) {
	tests := []struct {
		svc  string
		port uint16
		want bool
	}{
		{"tcp/502", 502, true},
		{"tcp/502", 501, false},
		{"tcp/502", 503, false},
		{"udp/100-200", 99, false},
		{"udp/100-200", 100, true},
		{"udp/100-200", 150, true},
		{"udp/100-200", 200, true},
		{"udp/100-200", 201, false},
		{"tcp", 1, true},
		{"tcp", 502, true},
		{"tcp", 65535, true},
		{"udp", 0, true},
		{"tcp/1-65535", 65535, true},
		{"tcp/1-65535", 0, false},
		{"icmp", 502, false},
		{"icmp/8", 8, false},
		{"icmpv6", 0, false},
	}
	for _, tt := range tests {
		if got := mustService(t, tt.svc).HasPort(tt.port); got != tt.want {
			t.Errorf("%s.HasPort(%d) = %v, want %v", tt.svc, tt.port, got, tt.want)
		}
	}
}

func TestServiceWholeProtocol(t *testing.T) {
	tests := []struct {
		svc  string
		want bool
	}{
		{"tcp", true},
		{"udp", true},
		{"icmp", true},
		{"icmpv6", true},
		{"tcp/502", false},
		{"udp/1-65535", false},
		{"icmp/0", false}, // type 0 is echo-reply, not "every type"
		{"icmp/echo-request", false},
		{"icmpv6/128", false},
	}
	for _, tt := range tests {
		if got := mustService(t, tt.svc).WholeProtocol(); got != tt.want {
			t.Errorf("%s.WholeProtocol() = %v, want %v", tt.svc, got, tt.want)
		}
	}
}

func TestCompareServicesOrder(t *testing.T) {
	in := []string{"udp/53", "tcp/502", "icmpv6/echo-request", "tcp", "icmp/echo-reply", "tcp/100-200", "icmp", "tcp/100-150", "icmp/echo-request"}
	svcs := make([]Service, len(in))
	for i, s := range in {
		svcs[i] = mustService(t, s)
	}
	slices.SortFunc(svcs, compareServices)
	var got []string
	for _, s := range svcs {
		got = append(got, s.String())
	}
	want := "icmp icmp/echo-reply icmp/echo-request icmpv6/echo-request tcp tcp/100-150 tcp/100-200 tcp/502 udp/53"
	if strings.Join(got, " ") != want {
		t.Errorf("sorted = %v, want %s", got, want)
	}
}
