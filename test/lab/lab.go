// Package lab builds a network-namespace lab from a zone model: a gateway
// namespace whose interfaces carry the names the model uses, one host
// namespace per zone network, one per asset at the asset's address, and
// routes through the gateway. It is the library behind cmd/zonelab and the
// project's end-to-end tests.
//
// Up builds a lab; Attach finds one built earlier (by another process).
// Cases derives from the model what must pass and what must be dropped,
// Probe sends real TCP, UDP, ICMP and Modbus/TCP traffic (with a fake PLC,
// ModbusServer, behind inspected conduits) and reports what got through;
// WriteMatrix prints the result.
//
// Every namespace name starts with the lab's prefix, so Down (or DownPrefix
// after a crash) removes everything; links live inside the namespaces and
// disappear with them.
package lab

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/zonegate/zonegate/gateway/zone"
)

// Lab is a running lab.
type Lab struct {
	Prefix  string
	Model   *zone.Model
	Gateway string           // namespace of the gateway
	Zones   map[string]*Host // one host per zone, on the zone's first network(s)
	Assets  map[string]*Host // one host per asset
	// GatewayAddrs are the gateway's addresses per zone.
	GatewayAddrs map[string][]netip.Addr
	// Links are the gateway's interfaces in model order: the names the
	// model uses, the zone each faces and the addresses the lab gave it.
	Links []Link

	// dry is set while Attach replays the construction without running
	// any command, to learn the layout of a lab built earlier.
	dry bool
	// created lists the namespaces Up created, for cleaning up after a
	// failure.
	created []string
}

// Link is one interface of the gateway namespace.
type Link struct {
	Name  string
	Zone  string
	Addrs []netip.Prefix // empty for an interface without a network of its own (a dummy link)
}

// Host is a namespace standing for a machine in a zone.
type Host struct {
	NS    string
	Zone  string
	Asset string       // empty for a zone's host
	Addrs []netip.Addr // one per zone network family it sits on
}

// Addr returns the host's address of a family (4 or 6), if any.
func (h *Host) Addr(family int) (netip.Addr, bool) {
	for _, a := range h.Addrs {
		if (family == 4) == a.Is4() {
			return a, true
		}
	}
	return netip.Addr{}, false
}

// Options tune Up and Attach.
type Options struct {
	// Prefix starts every namespace name: a lower-case letter followed by
	// up to 11 lower-case letters or digits, unique on the machine (the
	// lab adds "-gw", "-z-ZONE" and "-a-ASSET"). No dash, so that one
	// prefix never matches the namespaces of another.
	Prefix string
}

// DefaultPrefix is the prefix zonelab uses when none is given.
const DefaultPrefix = "zl"

var prefixRE = regexp.MustCompile(`^[a-z][a-z0-9]{0,11}$`)

// CheckPrefix reports whether prefix can name a lab.
func CheckPrefix(prefix string) error {
	if !prefixRE.MatchString(prefix) {
		return fmt.Errorf("lab prefix %q is not usable: use a lower-case letter followed by up to 11 lower-case letters or digits, such as %q", prefix, DefaultPrefix)
	}
	return nil
}

// ErrNotRoot is returned when the caller cannot create namespaces.
var ErrNotRoot = errors.New("zonelab needs root (CAP_SYS_ADMIN and CAP_NET_ADMIN) to create network namespaces")

// nsName builds a namespace name.
func nsName(prefix, kind, name string) string { return prefix + "-" + kind + "-" + name }

// GatewayNS is the gateway namespace name of a lab prefix.
func GatewayNS(prefix string) string { return prefix + "-gw" }

// segment is one gateway interface with the networks the lab puts on it.
type segment struct {
	zone     *zone.Zone
	ifname   string
	bridge   string
	networks []netip.Prefix
}

// Up builds the lab for a model. It refuses when namespaces of the prefix
// already exist. On failure it removes what it created.
func Up(m *zone.Model, opt Options) (l *Lab, err error) {
	if os.Geteuid() != 0 {
		return nil, ErrNotRoot
	}
	if err := CheckPrefix(opt.Prefix); err != nil {
		return nil, err
	}
	existing, err := Namespaces(opt.Prefix)
	if err != nil {
		return nil, err
	}
	if len(existing) > 0 {
		return nil, fmt.Errorf("namespaces with prefix %q already exist (%s): another lab (or a crashed one) uses this prefix; remove it with `zonelab down --prefix %s` or pick another prefix", opt.Prefix, strings.Join(existing, ", "), opt.Prefix)
	}
	l = newLab(m, opt.Prefix)
	defer func() {
		if err != nil {
			// Only what this call created: a lab racing for the same
			// prefix keeps its namespaces.
			_ = removeNamespaces(l.created)
			l = nil
		}
	}()
	if err := l.build(); err != nil {
		return l, err
	}
	return l, l.waitReady()
}

// Attach returns the lab a previous Up built for m with the same prefix
// (for example in another process: `zonelab up`, then `zonelab probe`).
// Up lays a model out deterministically, so Attach replays the layout
// without running anything, then checks that the namespaces exist and
// carry the addresses the model gives them.
func Attach(m *zone.Model, opt Options) (*Lab, error) {
	if os.Geteuid() != 0 {
		return nil, ErrNotRoot
	}
	if err := CheckPrefix(opt.Prefix); err != nil {
		return nil, err
	}
	l := newLab(m, opt.Prefix)
	l.dry = true
	if err := l.build(); err != nil {
		return nil, err
	}
	l.dry = false
	existing, err := Namespaces(opt.Prefix)
	if err != nil {
		return nil, err
	}
	if len(existing) == 0 {
		return nil, fmt.Errorf("no lab with prefix %q is running: start one with `zonelab up MODEL --prefix %s` (or `zonelab run`)", opt.Prefix, opt.Prefix)
	}
	for _, ns := range l.NamespaceNames() {
		if !slices.Contains(existing, ns) {
			return nil, fmt.Errorf("lab %q lacks namespace %s, so it was built from another model or is damaged: rebuild it with `zonelab down --prefix %s` and `zonelab up MODEL --prefix %s`", opt.Prefix, ns, opt.Prefix, opt.Prefix)
		}
	}
	check := func(ns string, want []netip.Addr) error {
		have, err := addrsIn(ns)
		if err != nil {
			return err
		}
		for _, a := range want {
			if !slices.Contains(have, a) {
				return fmt.Errorf("namespace %s lacks address %s, so lab %q was built from another model: rebuild it with `zonelab down --prefix %s` and `zonelab up MODEL --prefix %s`", ns, a, opt.Prefix, opt.Prefix, opt.Prefix)
			}
		}
		return nil
	}
	for _, h := range l.allHosts() {
		if err := check(h.NS, h.Addrs); err != nil {
			return nil, err
		}
	}
	var gw []netip.Addr
	for _, ln := range l.Links {
		for _, p := range ln.Addrs {
			gw = append(gw, p.Addr())
		}
	}
	if err := check(l.Gateway, gw); err != nil {
		return nil, err
	}
	return l, nil
}

// addrsIn lists the addresses configured in a namespace.
func addrsIn(ns string) ([]netip.Addr, error) {
	var out []netip.Addr
	err := Do(ns, func() error {
		addrs, err := net.InterfaceAddrs()
		if err != nil {
			return fmt.Errorf("list addresses in %s: %w", ns, err)
		}
		for _, a := range addrs {
			if n, ok := a.(*net.IPNet); ok {
				if ip, ok := netip.AddrFromSlice(n.IP); ok {
					out = append(out, ip.Unmap())
				}
			}
		}
		return nil
	})
	return out, err
}

func newLab(m *zone.Model, prefix string) *Lab {
	return &Lab{Prefix: prefix, Model: m, Gateway: GatewayNS(prefix),
		Zones: map[string]*Host{}, Assets: map[string]*Host{}, GatewayAddrs: map[string][]netip.Addr{}}
}

// build creates the gateway and the zone segments (or, dry, only
// computes them).
func (l *Lab) build() error {
	if err := l.addNS(l.Gateway); err != nil {
		return err
	}
	if err := l.ip(l.Gateway, "link", "set", "lo", "up"); err != nil {
		return err
	}
	for _, kv := range [][2]string{{"net.ipv4.ip_forward", "1"}, {"net.ipv6.conf.all.forwarding", "1"}} {
		if err := l.sysctl(l.Gateway, kv[0], kv[1]); err != nil {
			return err
		}
	}
	used := assetAddrs(l.Model)
	for _, z := range l.Model.Zones {
		for _, seg := range segments(z) {
			if err := l.buildSegment(seg, used); err != nil {
				return fmt.Errorf("zone %s, interface %s: %w", z.Name, seg.ifname, err)
			}
		}
	}
	return nil
}

// NamespaceNames lists the lab's namespaces: the gateway, then the zone
// hosts and the asset hosts in model order.
func (l *Lab) NamespaceNames() []string {
	out := []string{l.Gateway}
	for _, h := range l.Hosts() {
		out = append(out, h.NS)
	}
	return out
}

// Hosts returns the zone hosts and asset hosts in model order.
func (l *Lab) Hosts() []*Host {
	var hs []*Host
	for _, z := range l.Model.Zones {
		if h := l.Zones[z.Name]; h != nil {
			hs = append(hs, h)
		}
		for _, a := range l.Model.Assets {
			if h := l.Assets[a.Name]; h != nil && a.Zone == z.Name {
				hs = append(hs, h)
			}
		}
	}
	return hs
}

// waitReady pings the gateway from every host until each answers, so that
// links are forwarding and neighbour caches are filled before the first
// probe (a fresh bridge loses the first ARP request, which costs a second).
func (l *Lab) waitReady() error {
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for _, h := range l.allHosts() {
		for _, a := range h.Addrs {
			gw, ok := l.gatewayFor(h.Zone, a)
			if !ok {
				continue
			}
			wg.Add(1)
			go func(h *Host, a, gw netip.Addr) {
				defer wg.Done()
				proto := zone.ICMP
				if a.Is6() {
					proto = zone.ICMPv6
				}
				c := Case{Src: h, SrcAddr: a, DstAddr: gw, Proto: proto}
				for i := 0; i < 20; i++ {
					if ok, _ := ping(c, i, 500*time.Millisecond); ok {
						return
					}
				}
				errs <- fmt.Errorf("host %s cannot reach the gateway at %s", h.NS, gw)
			}(h, a, gw)
		}
	}
	wg.Wait()
	close(errs)
	var all []error
	for err := range errs {
		all = append(all, err)
	}
	return errors.Join(all...)
}

// gatewayFor returns the gateway's address on the network of a.
func (l *Lab) gatewayFor(zoneName string, a netip.Addr) (netip.Addr, bool) {
	z := l.Model.Zone(zoneName)
	for _, gw := range l.GatewayAddrs[zoneName] {
		for _, n := range z.Networks {
			if n.Contains(gw) && n.Contains(a) {
				return gw, true
			}
		}
	}
	return netip.Addr{}, false
}

func assetAddrs(m *zone.Model) map[netip.Addr]bool {
	used := map[netip.Addr]bool{}
	for _, a := range m.Assets {
		used[a.Address] = true
	}
	return used
}

// segments spreads a zone's networks over its interfaces, round robin.
func segments(z *zone.Zone) []segment {
	segs := make([]segment, len(z.Interfaces))
	for i, ifname := range z.Interfaces {
		segs[i] = segment{zone: z, ifname: ifname, bridge: fmt.Sprintf("br%d", i)}
	}
	for i, n := range z.Networks {
		segs[i%len(segs)].networks = append(segs[i%len(segs)].networks, n)
	}
	return segs
}

// nextFree returns the first address of p after from that no asset uses.
func nextFree(p netip.Prefix, from netip.Addr, used map[netip.Addr]bool) (netip.Addr, error) {
	for a := from.Next(); a.IsValid() && p.Contains(a); a = a.Next() {
		if !used[a] && !(a.Is4() && isBroadcast(p, a)) {
			used[a] = true
			return a, nil
		}
	}
	return netip.Addr{}, fmt.Errorf("network %s has no free address left for the lab", p)
}

func isBroadcast(p netip.Prefix, a netip.Addr) bool {
	return p.Bits() < 31 && a.Next().IsValid() && !p.Contains(a.Next())
}

func (l *Lab) buildSegment(seg segment, used map[netip.Addr]bool) error {
	zoneNS := nsName(l.Prefix, "z", seg.zone.Name)
	if len(seg.networks) == 0 {
		// An interface without a network of its own still exists on the
		// gateway, so the model's interface names are all there.
		l.Links = append(l.Links, Link{Name: seg.ifname, Zone: seg.zone.Name})
		return l.ip(l.Gateway, "link", "add", seg.ifname, "type", "dummy")
	}
	if _, ok := l.Zones[seg.zone.Name]; !ok {
		if err := l.addNS(zoneNS); err != nil {
			return err
		}
		if err := l.ip(zoneNS, "link", "set", "lo", "up"); err != nil {
			return err
		}
		l.Zones[seg.zone.Name] = &Host{NS: zoneNS, Zone: seg.zone.Name}
	}
	zh := l.Zones[seg.zone.Name]
	// The gateway's interface is one end of a veth pair; the other end
	// sits on a bridge in the zone's namespace, where the zone host and
	// the asset hosts of this segment hang too.
	peer := "gw-" + seg.bridge
	steps := [][]string{
		{"link", "add", seg.ifname, "type", "veth", "peer", "name", peer, "netns", zoneNS},
		{"link", "set", seg.ifname, "up"},
	}
	for _, s := range steps {
		if err := l.ip(l.Gateway, s...); err != nil {
			return err
		}
	}
	for _, s := range [][]string{
		{"link", "add", seg.bridge, "type", "bridge"},
		{"link", "set", peer, "master", seg.bridge},
		{"link", "set", peer, "up"},
		{"link", "set", seg.bridge, "up"},
	} {
		if err := l.ip(zoneNS, s...); err != nil {
			return err
		}
	}
	link := Link{Name: seg.ifname, Zone: seg.zone.Name}
	defer func() { l.Links = append(l.Links, link) }()
	gwAddrs := map[bool]netip.Addr{}
	for _, n := range seg.networks {
		gw, err := nextFree(n, n.Masked().Addr(), used)
		if err != nil {
			return err
		}
		host, err := nextFree(n, gw, used)
		if err != nil {
			return err
		}
		if err := l.ip(l.Gateway, "addr", "add", netip.PrefixFrom(gw, n.Bits()).String(), "dev", seg.ifname, "nodad"); err != nil {
			return err
		}
		l.GatewayAddrs[seg.zone.Name] = append(l.GatewayAddrs[seg.zone.Name], gw)
		link.Addrs = append(link.Addrs, netip.PrefixFrom(gw, n.Bits()))
		if _, seen := gwAddrs[gw.Is4()]; !seen {
			gwAddrs[gw.Is4()] = gw
			if _, has := zh.Addr(family(gw)); !has {
				if err := l.addAddrAndRoute(zoneNS, seg.bridge, netip.PrefixFrom(host, n.Bits()), gw); err != nil {
					return err
				}
				zh.Addrs = append(zh.Addrs, host)
			}
		}
	}
	for _, a := range l.Model.Assets {
		if a.Zone != seg.zone.Name || !slices.ContainsFunc(seg.networks, func(n netip.Prefix) bool { return n.Contains(a.Address) }) {
			continue
		}
		if err := l.buildAsset(a, seg, zoneNS, gwAddrs[a.Address.Is4()]); err != nil {
			return fmt.Errorf("asset %s: %w", a.Name, err)
		}
	}
	return nil
}

func family(a netip.Addr) int {
	if a.Is4() {
		return 4
	}
	return 6
}

func (l *Lab) buildAsset(a *zone.Asset, seg segment, zoneNS string, gw netip.Addr) error {
	ns := nsName(l.Prefix, "a", a.Name)
	if err := l.addNS(ns); err != nil {
		return err
	}
	port := fmt.Sprintf("a%d", len(l.Assets))
	for _, s := range [][]string{
		{"link", "add", port, "type", "veth", "peer", "name", "eth0", "netns", ns},
		{"link", "set", port, "master", seg.bridge},
		{"link", "set", port, "up"},
	} {
		if err := l.ip(zoneNS, s...); err != nil {
			return err
		}
	}
	if err := l.ip(ns, "link", "set", "lo", "up"); err != nil {
		return err
	}
	var bits int
	for _, n := range seg.networks {
		if n.Contains(a.Address) {
			bits = n.Bits()
		}
	}
	if err := l.addAddrAndRoute(ns, "eth0", netip.PrefixFrom(a.Address, bits), gw); err != nil {
		return err
	}
	l.Assets[a.Name] = &Host{NS: ns, Zone: a.Zone, Asset: a.Name, Addrs: []netip.Addr{a.Address}}
	return nil
}

func (l *Lab) addAddrAndRoute(ns, dev string, p netip.Prefix, gw netip.Addr) error {
	steps := [][]string{
		{"link", "set", dev, "up"},
		{"addr", "add", p.String(), "dev", dev, "nodad"},
	}
	if gw.IsValid() {
		fam := "-4"
		if p.Addr().Is6() {
			fam = "-6"
		}
		steps = append(steps, []string{fam, "route", "add", "default", "via", gw.String(), "dev", dev})
	}
	for _, s := range steps {
		if err := l.ip(ns, s...); err != nil {
			return err
		}
	}
	return nil
}

// Down removes every namespace of the lab, after stopping the processes
// still running in them.
func (l *Lab) Down() error { return DownPrefix(l.Prefix) }

// DownPrefix removes every namespace of the lab with this prefix, also
// those of a lab whose process died. Processes still running inside them
// (a daemon left behind by a killed `zonelab run`) get SIGTERM, and
// SIGKILL two seconds later, so that no namespace lives on unnamed.
// Links live inside the namespaces and disappear with them.
func DownPrefix(prefix string) error {
	if err := CheckPrefix(prefix); err != nil {
		return err
	}
	names, err := Namespaces(prefix)
	if err != nil {
		return err
	}
	err = removeNamespaces(names)
	return errors.Join(err, os.RemoveAll(StateDir(prefix)))
}

// StateDir is where `zonelab run` keeps the state of the lab's zonegate
// (model versions, accounts, audit log, API socket); Down removes it.
func StateDir(prefix string) string { return filepath.Join("/run/zonelab", prefix) }

// removeNamespaces stops the processes in the namespaces and deletes them.
func removeNamespaces(names []string) error {
	var errs []error
	stopProcesses(names)
	for _, n := range names {
		if out, err := exec.Command("ip", "netns", "delete", n).CombinedOutput(); err != nil {
			errs = append(errs, fmt.Errorf("ip netns delete %s: %v: %s", n, err, bytes.TrimSpace(out)))
		}
	}
	return errors.Join(errs...)
}

// stopProcesses ends the processes running in the namespaces.
func stopProcesses(names []string) {
	var pids []int
	for _, n := range names {
		out, err := exec.Command("ip", "netns", "pids", n).Output()
		if err != nil {
			continue
		}
		for _, f := range strings.Fields(string(out)) {
			if pid, err := strconv.Atoi(f); err == nil && pid != os.Getpid() {
				pids = append(pids, pid)
			}
		}
	}
	if len(pids) == 0 {
		return
	}
	for _, pid := range pids {
		_ = syscall.Kill(pid, syscall.SIGTERM)
	}
	deadline := time.Now().Add(2 * time.Second)
	for time.Now().Before(deadline) && slices.ContainsFunc(pids, alive) {
		time.Sleep(50 * time.Millisecond)
	}
	for _, pid := range pids {
		if alive(pid) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

// alive reports whether a process exists and is not a zombie.
func alive(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	// The state follows the command name in parentheses.
	i := bytes.LastIndexByte(b, ')')
	return i < 0 || i+2 >= len(b) || b[i+2] != 'Z'
}

// Namespaces lists the namespaces of a lab prefix: PREFIX-gw, PREFIX-z-*
// and PREFIX-a-*.
func Namespaces(prefix string) ([]string, error) {
	entries, err := os.ReadDir("/run/netns")
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list network namespaces: %w", err)
	}
	var out []string
	for _, e := range entries {
		n := e.Name()
		if n == GatewayNS(prefix) || strings.HasPrefix(n, prefix+"-z-") || strings.HasPrefix(n, prefix+"-a-") {
			out = append(out, n)
		}
	}
	return out, nil
}

// addNS creates a namespace (not when dry).
func (l *Lab) addNS(name string) error {
	if l.dry {
		return nil
	}
	if out, err := exec.Command("ip", "netns", "add", name).CombinedOutput(); err != nil {
		return fmt.Errorf("ip netns add %s: %v: %s", name, err, bytes.TrimSpace(out))
	}
	l.created = append(l.created, name)
	// No duplicate address detection: addresses are usable at once.
	for _, k := range []string{"net.ipv6.conf.all.accept_dad", "net.ipv6.conf.default.accept_dad"} {
		if err := l.sysctl(name, k, "0"); err != nil {
			return err
		}
	}
	return nil
}

// sysctl sets a network sysctl of a namespace (not when dry): files under
// /proc/sys/net belong to the namespace of the thread that opens them.
func (l *Lab) sysctl(ns, key, value string) error {
	if l.dry {
		return nil
	}
	path := "/proc/sys/" + strings.ReplaceAll(key, ".", "/")
	err := Do(ns, func() error { return os.WriteFile(path, []byte(value+"\n"), 0o644) })
	if err != nil {
		return fmt.Errorf("set %s=%s in %s: %w", key, value, ns, err)
	}
	return nil
}

// ip runs `ip -n ns ARGS` (not when dry).
func (l *Lab) ip(ns string, args ...string) error {
	if l.dry {
		return nil
	}
	return ipIn(ns, args...)
}

func ipIn(ns string, args ...string) error {
	full := append([]string{"-n", ns}, args...)
	if out, err := exec.Command("ip", full...).CombinedOutput(); err != nil {
		return fmt.Errorf("ip %s: %v: %s", strings.Join(full, " "), err, bytes.TrimSpace(out))
	}
	return nil
}

// Command returns a command that runs inside a namespace of the lab.
func Command(ns string, name string, args ...string) *exec.Cmd {
	return exec.Command("ip", append([]string{"netns", "exec", ns, name}, args...)...)
}
