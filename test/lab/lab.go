// Package lab builds a network-namespace lab from a zone model: a gateway
// namespace whose interfaces carry the names the model uses, one host
// namespace per zone network, one per asset at the asset's address, and
// routes through the gateway. It is the library behind cmd/zonelab and the
// project's end-to-end tests.
//
// Every namespace name starts with the lab's prefix, so Down (or DownPrefix
// after a crash) removes everything; links live inside the namespaces and
// disappear with them.
package lab

import (
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
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

// Options tune Up.
type Options struct {
	// Prefix starts every namespace name; it must be short (the lab adds
	// "-" and a zone or asset name) and unique on the machine.
	Prefix string
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

// Up builds the lab for a model. On failure it removes what it created.
func Up(m *zone.Model, opt Options) (l *Lab, err error) {
	if os.Geteuid() != 0 {
		return nil, ErrNotRoot
	}
	if opt.Prefix == "" || strings.ContainsAny(opt.Prefix, "/ ") {
		return nil, fmt.Errorf("lab prefix %q must be a short name without '/' or spaces", opt.Prefix)
	}
	existing, err := Namespaces(opt.Prefix)
	if err != nil {
		return nil, err
	}
	if len(existing) > 0 {
		return nil, fmt.Errorf("namespaces with prefix %q already exist (%s): run `zonelab down` or pick another prefix", opt.Prefix, strings.Join(existing, ", "))
	}
	l = &Lab{Prefix: opt.Prefix, Model: m, Gateway: GatewayNS(opt.Prefix),
		Zones: map[string]*Host{}, Assets: map[string]*Host{}, GatewayAddrs: map[string][]netip.Addr{}}
	defer func() {
		if err != nil {
			_ = l.Down()
			l = nil
		}
	}()
	if err := addNS(l.Gateway); err != nil {
		return l, err
	}
	if err := ipIn(l.Gateway, "link", "set", "lo", "up"); err != nil {
		return l, err
	}
	for _, kv := range [][2]string{{"net.ipv4.ip_forward", "1"}, {"net.ipv6.conf.all.forwarding", "1"}} {
		if err := sysctl(l.Gateway, kv[0], kv[1]); err != nil {
			return l, err
		}
	}
	used := assetAddrs(m)
	for _, z := range m.Zones {
		for _, seg := range segments(z) {
			if err := l.buildSegment(seg, used); err != nil {
				return l, fmt.Errorf("zone %s, interface %s: %w", z.Name, seg.ifname, err)
			}
		}
	}
	return l, l.waitReady()
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
		return ipIn(l.Gateway, "link", "add", seg.ifname, "type", "dummy")
	}
	if _, ok := l.Zones[seg.zone.Name]; !ok {
		if err := addNS(zoneNS); err != nil {
			return err
		}
		if err := ipIn(zoneNS, "link", "set", "lo", "up"); err != nil {
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
		if err := ipIn(l.Gateway, s...); err != nil {
			return err
		}
	}
	for _, s := range [][]string{
		{"link", "add", seg.bridge, "type", "bridge"},
		{"link", "set", peer, "master", seg.bridge},
		{"link", "set", peer, "up"},
		{"link", "set", seg.bridge, "up"},
	} {
		if err := ipIn(zoneNS, s...); err != nil {
			return err
		}
	}
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
		if err := ipIn(l.Gateway, "addr", "add", netip.PrefixFrom(gw, n.Bits()).String(), "dev", seg.ifname, "nodad"); err != nil {
			return err
		}
		l.GatewayAddrs[seg.zone.Name] = append(l.GatewayAddrs[seg.zone.Name], gw)
		if _, seen := gwAddrs[gw.Is4()]; !seen {
			gwAddrs[gw.Is4()] = gw
			if _, has := zh.Addr(family(gw)); !has {
				if err := addAddrAndRoute(zoneNS, seg.bridge, netip.PrefixFrom(host, n.Bits()), gw); err != nil {
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
	if err := addNS(ns); err != nil {
		return err
	}
	port := fmt.Sprintf("a%d", len(l.Assets))
	for _, s := range [][]string{
		{"link", "add", port, "type", "veth", "peer", "name", "eth0", "netns", ns},
		{"link", "set", port, "master", seg.bridge},
		{"link", "set", port, "up"},
	} {
		if err := ipIn(zoneNS, s...); err != nil {
			return err
		}
	}
	if err := ipIn(ns, "link", "set", "lo", "up"); err != nil {
		return err
	}
	var bits int
	for _, n := range seg.networks {
		if n.Contains(a.Address) {
			bits = n.Bits()
		}
	}
	if err := addAddrAndRoute(ns, "eth0", netip.PrefixFrom(a.Address, bits), gw); err != nil {
		return err
	}
	l.Assets[a.Name] = &Host{NS: ns, Zone: a.Zone, Asset: a.Name, Addrs: []netip.Addr{a.Address}}
	return nil
}

func addAddrAndRoute(ns, dev string, p netip.Prefix, gw netip.Addr) error {
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
		if err := ipIn(ns, s...); err != nil {
			return err
		}
	}
	return nil
}

// Down removes every namespace of the lab.
func (l *Lab) Down() error { return DownPrefix(l.Prefix) }

// DownPrefix removes every namespace whose name starts with prefix + "-",
// also those of a lab whose process died.
func DownPrefix(prefix string) error {
	names, err := Namespaces(prefix)
	if err != nil {
		return err
	}
	var errs []error
	for _, n := range names {
		if out, err := exec.Command("ip", "netns", "delete", n).CombinedOutput(); err != nil {
			errs = append(errs, fmt.Errorf("ip netns delete %s: %v: %s", n, err, bytes.TrimSpace(out)))
		}
	}
	return errors.Join(errs...)
}

// Namespaces lists the namespaces of a lab prefix.
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
		if strings.HasPrefix(e.Name(), prefix+"-") {
			out = append(out, e.Name())
		}
	}
	return out, nil
}

func addNS(name string) error {
	if out, err := exec.Command("ip", "netns", "add", name).CombinedOutput(); err != nil {
		return fmt.Errorf("ip netns add %s: %v: %s", name, err, bytes.TrimSpace(out))
	}
	// No duplicate address detection: addresses are usable at once.
	for _, k := range []string{"net.ipv6.conf.all.accept_dad", "net.ipv6.conf.default.accept_dad"} {
		if err := sysctl(name, k, "0"); err != nil {
			return err
		}
	}
	return nil
}

func sysctl(ns, key, value string) error {
	path := "/proc/sys/" + strings.ReplaceAll(key, ".", "/")
	cmd := exec.Command("ip", "netns", "exec", ns, "sh", "-c", "echo "+value+" > "+path)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("set %s=%s in %s: %v: %s", key, value, ns, err, bytes.TrimSpace(out))
	}
	return nil
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
