package firewall

import (
	"cmp"
	"net/netip"
	"slices"

	"golang.org/x/sys/unix"

	"github.com/zonegate/zonegate/gateway/zone"
	"github.com/zonegate/zonegate/protocols/registry"
)

// Options tune the compiled ruleset.
type Options struct {
	LogGroup uint16 // NFLOG group for dropped packets; 0 means DefaultLogGroup
	LogRate  uint64 // logged drops per second per rule; 0 means DefaultLogRate
	// Proxies says on which local port the proxy of each inspected protocol
	// listens: the tcp services of a conduit with `inspect: NAME` are
	// redirected to the port of NAME. A protocol of package
	// protocols/registry without an entry gets its default port.
	Proxies []ProxyPort
	// Island stops all forwarding between zones (IEC 62443 SR 5.2 island
	// mode); traffic inside a zone and management access stay.
	Island bool
}

// ProxyPort is the local port of one inspected protocol's proxy.
type ProxyPort struct {
	Inspector string // inspect.Protocol.Name, the conduits' `inspect:` value
	Port      uint16
}

// Defaults of Options.
const (
	DefaultLogGroup = 1
	DefaultLogRate  = 10
)

func (o Options) withDefaults() Options {
	if o.LogGroup == 0 {
		o.LogGroup = DefaultLogGroup
	}
	if o.LogRate == 0 {
		o.LogRate = DefaultLogRate
	}
	var ports []ProxyPort
	for _, p := range registry.All() {
		port := p.DefaultPort
		if i := slices.IndexFunc(o.Proxies, func(pp ProxyPort) bool { return pp.Inspector == p.Name }); i >= 0 && o.Proxies[i].Port != 0 {
			port = o.Proxies[i].Port
		}
		ports = append(ports, ProxyPort{Inspector: p.Name, Port: port})
	}
	o.Proxies = ports
	return o
}

// Names of the fixed parts of the ruleset.
const (
	ChainPrerouting   = "prerouting"
	ChainForward      = "forward"
	ChainInput        = "input"
	MapSpoofCheck     = "spoof_check"
	MapForwardPairs   = "forward_pairs"
	SetManagementIfs  = "management_ifaces"
	SetLinkLocal6     = "link_local6"
	CounterInvalid    = "invalid"
	CounterDropFwd    = "dropped_forward"
	CounterDropInput  = "dropped_input"
	MapDropForward    = "drop_forward_zone"
	MapDropInput      = "drop_input_zone"
	counterConduitPre = "conduit_"
	counterSpoofPre   = "spoofed_"
)

// ConduitCounter is the name of a conduit's counter.
func ConduitCounter(conduit string) string { return counterConduitPre + conduit }

// SpoofCounter is the name of a zone's anti-spoofing counter.
func SpoofCounter(zoneName string) string { return counterSpoofPre + zoneName }

// DropCounter is the name of the counter of packets from a zone that the
// forward or input chain (ChainForward, ChainInput) drops by default:
// "dropped_forward_ZONE", "dropped_input_ZONE". Zone names have no "_", so
// the name is never that of the counters of packets from no zone's
// interface (CounterDropFwd, CounterDropInput).
func DropCounter(chain, zoneName string) string { return "dropped_" + chain + "_" + zoneName }

func netSet(f Family, zoneName string) string {
	if f == IPv4 {
		return "net4_" + zoneName
	}
	return "net6_" + zoneName
}

func spoofChain(zoneName string) string { return "spoof_" + zoneName }
func pairChain(from, to string) string  { return "fwd_" + from + "_to_" + to }

// RedirectChain is the nat chain that redirects the connections of an
// inspected protocol's conduits to its proxy ("modbus_redirect").
func RedirectChain(inspector string) string { return inspector + "_redirect" }

// RedirectMap is the verdict map of RedirectChain, keyed by input interface
// ("modbus_from").
func RedirectMap(inspector string) string { return inspector + "_from" }

// redirectZoneChain holds the redirect rules of the conduits from one zone.
func redirectZoneChain(inspector, fromZone string) string { return inspector + "_" + fromZone }
func sortedZones(m *zone.Model) []*zone.Zone {
	return sortedBy(m.Zones, func(z *zone.Zone) string { return z.Name })
}

func sortedBy[T any](s []T, key func(T) string) []T {
	out := slices.Clone(s)
	slices.SortStableFunc(out, func(a, b T) int { return cmp.Compare(key(a), key(b)) })
	return out
}

// Compile turns a validated zone model into the ruleset of table inet
// zonegate. The result depends only on what the model means: the same model
// written in another order compiles to the same ruleset.
func Compile(m *zone.Model, opt Options) *Ruleset {
	opt = opt.withDefaults()
	c := &compiler{m: m, opt: opt, rs: &Ruleset{}}
	c.zoneSets()
	c.antiSpoofing()
	c.forward()
	c.input()
	for _, p := range c.opt.Proxies {
		c.redirect(p)
	}
	slices.Sort(c.rs.Counters)
	c.rs.Counters = slices.Compact(c.rs.Counters)
	return c.rs
}

type compiler struct {
	m   *zone.Model
	opt Options
	rs  *Ruleset
}

func (c *compiler) addChain(ch *Chain) *Chain {
	c.rs.Chains = append(c.rs.Chains, ch)
	return ch
}

func (c *compiler) counter(name string) Counter {
	c.rs.Counters = append(c.rs.Counters, name)
	return Counter{Name: name}
}

func (c *compiler) logDrop(prefix string) *Rule {
	return rule("", Limit{Rate: c.opt.LogRate, Burst: uint32(2 * c.opt.LogRate)}, Log{Prefix: prefix, Group: c.opt.LogGroup})
}

// zoneSets declares one interval set per zone and family with its networks.
func (c *compiler) zoneSets() {
	for _, z := range sortedZones(c.m) {
		for _, f := range []Family{IPv4, IPv6} {
			if ranges := familyRanges(z.Networks, f); len(ranges) > 0 {
				s := &Set{Name: netSet(f, z.Name), Key: keyOf(f)}
				for _, r := range ranges {
					s.Elems = append(s.Elems, Elem{Range: r})
				}
				c.rs.Sets = append(c.rs.Sets, s)
			}
		}
	}
	ll := &Set{Name: SetLinkLocal6, Key: KeyIPv6}
	for _, p := range []string{"::/128", "fe80::/10"} {
		ll.Elems = append(ll.Elems, Elem{Range: mergeRanges([]netip.Prefix{netip.MustParsePrefix(p)})[0]})
	}
	c.rs.Sets = append(c.rs.Sets, ll)
}

func keyOf(f Family) KeyType {
	if f == IPv4 {
		return KeyIPv4
	}
	return KeyIPv6
}

func familyRanges(ps []netip.Prefix, f Family) []AddrRange {
	var sel []netip.Prefix
	for _, p := range ps {
		if familyOf(p.Addr()) == f {
			sel = append(sel, p)
		}
	}
	return mergeRanges(sel)
}

func (c *compiler) hasFamily(z *zone.Zone, f Family) bool {
	return c.rs.Set(netSet(f, z.Name)) != nil
}

// antiSpoofing drops packets arriving on a zone's interface from an address
// outside that zone's networks, before conntrack sees them. IPv6 link-local
// and unspecified sources (neighbour discovery) are let through.
func (c *compiler) antiSpoofing() {
	vmap := &Set{Name: MapSpoofCheck, Key: KeyIfname, VerdictMap: true}
	pre := c.addChain(&Chain{Name: ChainPrerouting, Hook: HookPrerouting, Type: "filter", Priority: -300, Policy: "accept"})
	pre.Rules = append(pre.Rules,
		rule("", MatchAddr{Family: IPv6, Set: SetLinkLocal6}, Accept),
		rule("", VmapIfname{Map: MapSpoofCheck}),
	)
	for _, z := range sortedZones(c.m) {
		ch := &Chain{Name: spoofChain(z.Name)}
		for _, f := range []Family{IPv4, IPv6} {
			if c.hasFamily(z, f) {
				ch.Rules = append(ch.Rules, rule("", MatchAddr{Family: f, Set: netSet(f, z.Name)}, Return))
			}
		}
		ch.Rules = append(ch.Rules,
			c.logDrop("zonegate spoofed "+z.Name+": "),
			rule("", c.counter(SpoofCounter(z.Name)), Drop))
		c.addChain(ch)
		for _, ifname := range sortedCopy(z.Interfaces) {
			vmap.Elems = append(vmap.Elems, Elem{Ifnames: []string{ifname}, Verdict: Jump(ch.Name)})
		}
	}
	c.rs.Sets = append(c.rs.Sets, vmap)
}

func sortedCopy(s []string) []string {
	out := slices.Clone(s)
	slices.Sort(out)
	return out
}

// forward classifies new connections by iifname . oifname in one map
// lookup: same zone passes, a zone pair with conduits jumps to that pair's
// chain, everything else is logged and dropped.
func (c *compiler) forward() {
	fwd := c.addChain(&Chain{Name: ChainForward, Hook: HookForward, Type: "filter", Priority: 0, Policy: "drop"})
	fwd.Rules = append(fwd.Rules,
		rule("", MatchCtState{States: CtEstablished | CtRelated}, Accept),
		rule("", MatchCtState{States: CtInvalid}, c.counter(CounterInvalid), Drop),
		rule("", VmapIfnamePair{Map: MapForwardPairs}),
		c.logDrop("zonegate drop forward: "),
	)
	fwd.Rules = append(fwd.Rules, c.dropByZone(ChainForward, MapDropForward, CounterDropFwd)...)
	pairs := &Set{Name: MapForwardPairs, Key: KeyIfnamePair, VerdictMap: true}
	for _, z := range sortedZones(c.m) {
		ifs := sortedCopy(z.Interfaces)
		for _, a := range ifs {
			for _, b := range ifs {
				pairs.Elems = append(pairs.Elems, Elem{Ifnames: []string{a, b}, Verdict: Accept})
			}
		}
	}
	if !c.opt.Island {
		type pair struct{ from, to string }
		byPair := map[pair][]*zone.Conduit{}
		var order []pair
		for _, cd := range sortedBy(c.m.Conduits, func(x *zone.Conduit) string { return x.Name }) {
			p := pair{cd.From, cd.To}
			if _, seen := byPair[p]; !seen {
				order = append(order, p)
			}
			byPair[p] = append(byPair[p], cd)
		}
		slices.SortFunc(order, func(a, b pair) int { return cmp.Or(cmp.Compare(a.from, b.from), cmp.Compare(a.to, b.to)) })
		for _, p := range order {
			ch := &Chain{Name: pairChain(p.from, p.to)}
			for _, cd := range byPair[p] {
				ch.Rules = append(ch.Rules, c.conduitRules(cd, 0)...)
			}
			if len(ch.Rules) == 0 {
				continue // only inspected tcp services: they are redirected, never forwarded
			}
			c.addChain(ch)
			from, to := c.m.Zone(p.from), c.m.Zone(p.to)
			for _, a := range sortedCopy(from.Interfaces) {
				for _, b := range sortedCopy(to.Interfaces) {
					pairs.Elems = append(pairs.Elems, Elem{Ifnames: []string{a, b}, Verdict: Jump(ch.Name)})
				}
			}
		}
	}
	slices.SortFunc(pairs.Elems, func(a, b Elem) int {
		return cmp.Or(cmp.Compare(a.Ifnames[0], b.Ifnames[0]), cmp.Compare(a.Ifnames[1], b.Ifnames[1]))
	})
	c.rs.Sets = append(c.rs.Sets, pairs)
}

// serviceGroup is what one rule of a conduit matches at layer 4.
type serviceGroup struct {
	stmt Stmt
	v4   bool // usable with IPv4
	v6   bool // usable with IPv6
}

// serviceGroups groups a conduit's services into one match per protocol.
// With redirected set it returns only the tcp services of an inspected
// conduit (they go to the proxy); otherwise everything that is forwarded.
func serviceGroups(cd *zone.Conduit, redirected bool) []serviceGroup {
	inspected := cd.Inspected()
	var out []serviceGroup
	for _, p := range []struct {
		proto zone.Proto
		num   byte
	}{{zone.TCP, unix.IPPROTO_TCP}, {zone.UDP, unix.IPPROTO_UDP}} {
		if (p.proto == zone.TCP && inspected) != redirected {
			continue
		}
		var ranges []PortRange
		whole := false
		for _, s := range cd.Services {
			if s.Proto != p.proto {
				continue
			}
			if s.WholeProtocol() {
				whole = true
			}
			ranges = append(ranges, PortRange{s.PortLo, s.PortHi})
		}
		switch {
		case whole:
			out = append(out, serviceGroup{MatchL4{Proto: p.num}, true, true})
		case len(ranges) > 0:
			out = append(out, serviceGroup{MatchPorts{Proto: p.num, Ranges: mergePorts(ranges)}, true, true})
		}
	}
	if redirected {
		return out
	}
	for _, p := range []struct {
		proto zone.Proto
		num   byte
		v6    bool
	}{{zone.ICMP, unix.IPPROTO_ICMP, false}, {zone.ICMPv6, unix.IPPROTO_ICMPV6, true}} {
		var types []uint8
		whole, found := false, false
		for _, s := range cd.Services {
			if s.Proto != p.proto {
				continue
			}
			found = true
			if s.WholeProtocol() {
				whole = true
			} else {
				types = append(types, uint8(s.ICMPType))
			}
		}
		switch {
		case whole:
			out = append(out, serviceGroup{MatchL4{Proto: p.num}, !p.v6, p.v6})
		case found:
			slices.Sort(types)
			types = slices.Compact(types)
			names := make([]string, len(types))
			for i, t := range types {
				names[i] = zone.ICMPTypeName(p.proto, t)
			}
			out = append(out, serviceGroup{MatchICMP{V6: p.v6, Types: types, Names: names}, !p.v6, p.v6})
		}
	}
	return out
}

func mergePorts(rs []PortRange) []PortRange {
	slices.SortFunc(rs, func(a, b PortRange) int { return cmp.Or(int(a.Lo)-int(b.Lo), int(a.Hi)-int(b.Hi)) })
	var out []PortRange
	for _, r := range rs {
		if n := len(out); n > 0 && int(r.Lo) <= int(out[n-1].Hi)+1 {
			out[n-1].Hi = max(out[n-1].Hi, r.Hi)
			continue
		}
		out = append(out, r)
	}
	return out
}

// endpoint is what a conduit rule matches on one side for one family.
// ok is false when the side has nothing of that family.
func (c *compiler) endpoint(f Family, zoneName string, assets []string, dst bool) (Stmt, bool) {
	if len(assets) == 0 {
		if !dst {
			// The source zone is proven by iifname plus anti-spoofing; only
			// the family has to be pinned, by the destination match.
			return nil, c.hasFamily(c.m.Zone(zoneName), f)
		}
		if !c.hasFamily(c.m.Zone(zoneName), f) {
			return nil, false
		}
		return MatchAddr{Family: f, Dst: true, Set: netSet(f, zoneName)}, true
	}
	var addrs []netip.Addr
	for _, name := range assets {
		if a := c.m.Asset(name); a != nil && familyOf(a.Address) == f {
			addrs = append(addrs, a.Address)
		}
	}
	if len(addrs) == 0 {
		return nil, false
	}
	slices.SortFunc(addrs, netip.Addr.Compare)
	addrs = slices.Compact(addrs)
	return MatchAddr{Family: f, Dst: dst, Addrs: addrs}, true
}

// conduitRules returns the rules of one conduit: per family and protocol
// group, source and destination matches, the conduit's counter, and accept
// (forwarded) or, when redirectPort is not 0, a redirect to the proxy of
// the conduit's inspected protocol on that port.
func (c *compiler) conduitRules(cd *zone.Conduit, redirectPort uint16) []*Rule {
	redirected := redirectPort != 0
	var out []*Rule
	for _, f := range []Family{IPv4, IPv6} {
		src, okSrc := c.endpoint(f, cd.From, cd.FromAssets, false)
		dst, okDst := c.endpoint(f, cd.To, cd.ToAssets, true)
		if !okSrc || !okDst {
			continue
		}
		for _, g := range serviceGroups(cd, redirected) {
			if (f == IPv4 && !g.v4) || (f == IPv6 && !g.v6) {
				continue
			}
			var stmts []Stmt
			if src != nil {
				stmts = append(stmts, src)
			}
			stmts = append(stmts, dst, g.stmt, c.counter(ConduitCounter(cd.Name)))
			if redirected {
				stmts = append(stmts, Redirect{Port: redirectPort})
			} else {
				stmts = append(stmts, Accept)
			}
			out = append(out, rule("conduit "+cd.Name, stmts...))
		}
	}
	return out
}

// input lets management zones reach the gateway, plus neighbour discovery,
// ICMP errors and connections redirected to the proxies of inspected
// protocols.
func (c *compiler) input() {
	in := c.addChain(&Chain{Name: ChainInput, Hook: HookInput, Type: "filter", Priority: 0, Policy: "drop"})
	nd := []uint8{1, 2, 3, 4, 130, 131, 133, 134, 135, 136, 143}
	ndNames := make([]string, len(nd))
	for i, t := range nd {
		ndNames[i] = zone.ICMPTypeName(zone.ICMPv6, t)
	}
	in.Rules = append(in.Rules,
		rule("", MatchIfname{Name: "lo"}, Accept),
		rule("", MatchCtState{States: CtEstablished | CtRelated}, Accept),
		rule("", MatchCtState{States: CtInvalid}, c.counter(CounterInvalid), Drop),
		rule("neighbour discovery, MLD and ICMPv6 errors", MatchICMP{V6: true, Types: nd, Names: ndNames}, Accept),
		rule("ICMP errors", MatchICMP{Types: []uint8{3, 11, 12}, Names: []string{"destination-unreachable", "time-exceeded", "parameter-problem"}}, Accept),
	)
	for _, p := range c.opt.Proxies {
		if c.inspects(p.Inspector) {
			in.Rules = append(in.Rules, rule("connections redirected to the "+title(p.Inspector)+" proxy",
				MatchPorts{Proto: unix.IPPROTO_TCP, Ranges: []PortRange{{p.Port, p.Port}}}, MatchCtDNAT{}, Accept))
		}
	}
	mgmt := &Set{Name: SetManagementIfs, Key: KeyIfname}
	for _, name := range sortedCopy(c.m.Gateway.ManagementZones) {
		for _, ifname := range sortedCopy(c.m.Zone(name).Interfaces) {
			mgmt.Elems = append(mgmt.Elems, Elem{Ifnames: []string{ifname}})
		}
	}
	c.rs.Sets = append(c.rs.Sets, mgmt)
	in.Rules = append(in.Rules,
		rule("management zones", MatchIfnameSet{Set: SetManagementIfs}, Accept),
		c.logDrop("zonegate drop input: "),
	)
	in.Rules = append(in.Rules, c.dropByZone(ChainInput, MapDropInput, CounterDropInput)...)
}

// dropByZone ends a base chain that drops by default: one lookup of the
// input interface in the verdict map mapName jumps to the chain of the
// interface's zone, which counts the packet in that zone's counter
// (DropCounter) and drops it; a packet from an interface of no zone is
// counted in global. The lookup is on the drop path only, so accepted
// packets pay nothing for it, and its cost does not grow with the model.
func (c *compiler) dropByZone(chain, mapName, global string) []*Rule {
	vmap := &Set{Name: mapName, Key: KeyIfname, VerdictMap: true}
	for _, z := range sortedZones(c.m) {
		ch := c.addChain(&Chain{Name: "drop" + chain + "_" + z.Name})
		ch.Rules = append(ch.Rules, rule("", c.counter(DropCounter(chain, z.Name)), Drop))
		for _, ifname := range sortedCopy(z.Interfaces) {
			vmap.Elems = append(vmap.Elems, Elem{Ifnames: []string{ifname}, Verdict: Jump(ch.Name)})
		}
	}
	c.rs.Sets = append(c.rs.Sets, vmap)
	return []*Rule{
		rule("", VmapIfname{Map: mapName}),
		rule("", c.counter(global), Drop),
	}
}

// inspects reports whether the ruleset redirects connections to the proxy
// of inspector: some conduit is inspected by it and the gateway is not in
// island mode.
func (c *compiler) inspects(inspector string) bool {
	if c.opt.Island {
		return false
	}
	return slices.ContainsFunc(c.m.Conduits, func(cd *zone.Conduit) bool { return cd.Inspect == inspector })
}

func title(inspector string) string {
	if p, ok := registry.Lookup(inspector); ok && p.Title != "" {
		return p.Title
	}
	return inspector
}

// redirect sends new connections of the conduits inspected by p.Inspector
// to its local proxy, which reads the original destination and forwards
// what its policy allows.
func (c *compiler) redirect(p ProxyPort) {
	if !c.inspects(p.Inspector) {
		return
	}
	nat := c.addChain(&Chain{Name: RedirectChain(p.Inspector), Hook: HookPrerouting, Type: "nat", Priority: -100, Policy: "accept"})
	nat.Rules = append(nat.Rules, rule("", VmapIfname{Map: RedirectMap(p.Inspector)}))
	vmap := &Set{Name: RedirectMap(p.Inspector), Key: KeyIfname, VerdictMap: true}
	byZone := map[string][]*zone.Conduit{}
	for _, cd := range sortedBy(c.m.Conduits, func(x *zone.Conduit) string { return x.Name }) {
		if cd.Inspect == p.Inspector {
			byZone[cd.From] = append(byZone[cd.From], cd)
		}
	}
	for _, z := range sortedZones(c.m) {
		var rules []*Rule
		for _, cd := range byZone[z.Name] {
			rules = append(rules, c.conduitRules(cd, p.Port)...)
		}
		if len(rules) == 0 {
			continue
		}
		ch := c.addChain(&Chain{Name: redirectZoneChain(p.Inspector, z.Name), Rules: rules})
		for _, ifname := range sortedCopy(z.Interfaces) {
			vmap.Elems = append(vmap.Elems, Elem{Ifnames: []string{ifname}, Verdict: Jump(ch.Name)})
		}
	}
	c.rs.Sets = append(c.rs.Sets, vmap)
}
