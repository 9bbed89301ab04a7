package firewall_test

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/zonegate/zonegate/test/prereq"

	"github.com/zonegate/zonegate/firewall"
	"github.com/zonegate/zonegate/gateway/zone"
	"github.com/zonegate/zonegate/test/lab"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

func loadFile(t testing.TB, path string) *zone.Model {
	t.Helper()
	m, err := zone.LoadFile(path)
	if err != nil {
		t.Fatalf("load %s: %v", path, err)
	}
	return m
}

func load(t testing.TB, text string) *zone.Model {
	t.Helper()
	m, err := zone.Load("test.yaml", []byte(text))
	if err != nil {
		t.Fatalf("load model: %v", err)
	}
	return m
}

const examplePath = "../configs/example-factory.yaml"

func render(t testing.TB, rs *firewall.Ruleset) string {
	t.Helper()
	var b bytes.Buffer
	if err := firewall.Render(&b, rs); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// TestRenderGolden pins the nft script of the example factory and of its
// island mode. Run `go test ./firewall -update` after an intended change
// and review the diff.
func TestRenderGolden(t *testing.T) {
	m := loadFile(t, examplePath)
	for _, tc := range []struct {
		golden string
		opt    firewall.Options
	}{
		{"testdata/example-factory.nft", firewall.Options{}},
		{"testdata/example-factory-island.nft", firewall.Options{Island: true}},
	} {
		got := render(t, firewall.Compile(m, tc.opt))
		if *update {
			if err := os.WriteFile(tc.golden, []byte(got), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(tc.golden)
		if err != nil {
			t.Fatalf("read golden file (create it with -update): %v", err)
		}
		if got != string(want) {
			t.Errorf("%s differs from the rendered script; run `go test ./firewall -update` if the change is intended:\n%s", tc.golden, firstDiff(string(want), got))
		}
	}
}

func firstDiff(want, got string) string {
	wl, gl := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := 0; i < len(wl) || i < len(gl); i++ {
		var w, g string
		if i < len(wl) {
			w = wl[i]
		}
		if i < len(gl) {
			g = gl[i]
		}
		if w != g {
			return fmt.Sprintf("line %d:\n  want %q\n  got  %q", i+1, w, g)
		}
	}
	return "(no line differs)"
}

// TestCompileIgnoresOrder: the same model written in another order
// compiles to the same script.
func TestCompileIgnoresOrder(t *testing.T) {
	a := load(t, `
version: 1
gateway: {name: gw, management: {zones: [b]}}
zones:
  - {name: a, importance: low, interfaces: [eth0, eth9], networks: [198.18.1.0/24, "fd00:1::/64"]}
  - {name: b, importance: high, interfaces: [eth1], networks: [198.18.2.0/24]}
assets:
  - {name: x, zone: b, address: 198.18.2.5}
  - {name: y, zone: b, address: 198.18.2.6}
conduits:
  - {name: one, from: a, to: b, to_assets: [x, y], services: [tcp/502, udp/10-20, icmp/echo-request]}
  - {name: two, from: b, to: a, services: [tcp/22]}
`)
	b := load(t, `
version: 1
conduits:
  - {name: two, from: b, to: a, services: [tcp/22]}
  - {name: one, from: a, to: b, to_assets: [y, x], services: [icmp/echo-request, udp/10-20, tcp/502]}
assets:
  - {name: y, zone: b, address: 198.18.2.6}
  - {name: x, zone: b, address: 198.18.2.5}
zones:
  - {name: b, importance: high, interfaces: [eth1], networks: [198.18.2.0/24]}
  - {name: a, importance: low, interfaces: [eth9, eth0], networks: ["fd00:1::/64", 198.18.1.0/24]}
gateway: {name: gw, management: {zones: [b]}}
`)
	if ra, rb := render(t, firewall.Compile(a, firewall.Options{})), render(t, firewall.Compile(b, firewall.Options{})); ra != rb {
		t.Errorf("reordered model renders differently:\n%s", firstDiff(ra, rb))
	}
}

func TestCompileShapes(t *testing.T) {
	m := loadFile(t, examplePath)
	rs := firewall.Compile(m, firewall.Options{})
	script := render(t, rs)
	for _, want := range []string{
		"ct state established,related accept",
		"iifname . oifname vmap @forward_pairs",
		`"eth0" . "eth1" : jump fwd_office_to_mes`,
		`"eth0" . "eth0" : accept`,
		"iifname vmap @spoof_check",
		`counter name "spoofed_office" drop`,
		`log prefix "zonegate drop forward: " group 1`,
		`redirect to :5020 comment "conduit scada-to-plc"`,
		"tcp dport 5020 ct status dnat accept",
		"iifname @management_ifaces accept",
		"ip6 daddr @net6_mes icmpv6 type echo-request",
	} {
		if !strings.Contains(script, want) {
			t.Errorf("the example's script lacks %q", want)
		}
	}
	// Inspected tcp services are redirected, never forwarded.
	if strings.Contains(script, "tcp dport 502 counter name \"conduit_scada-to-plc\" accept") {
		t.Error("an inspected Modbus conduit is forwarded around the proxy")
	}
	island := render(t, firewall.Compile(m, firewall.Options{Island: true}))
	for _, banned := range []string{"jump fwd_", "redirect to", "chain fwd_"} {
		if strings.Contains(island, banned) {
			t.Errorf("island mode still contains %q", banned)
		}
	}
	if !strings.Contains(island, `"eth2" . "eth2" : accept`) || !strings.Contains(island, "iifname @management_ifaces accept") {
		t.Error("island mode must keep traffic inside zones and management access")
	}
}

func TestCompileWholeProtocolAndFamilies(t *testing.T) {
	m := load(t, `
version: 1
gateway: {name: gw, management: {zones: [a]}}
zones:
  - {name: a, importance: low, interfaces: [eth0], networks: [198.18.1.0/24, "fd00:1::/64"]}
  - {name: b, importance: low, interfaces: [eth1], networks: ["fd00:2::/64"]}
assets:
  - {name: v4only, zone: a, address: 198.18.1.9}
conduits:
  - {name: all, from: a, to: b, services: [udp, icmpv6, tcp/1-1024, tcp/1025]}
  - {name: narrow, from: a, to: b, from_assets: [v4only], services: [tcp/80]}
`)
	script := render(t, firewall.Compile(m, firewall.Options{}))
	for _, want := range []string{
		"ip6 daddr @net6_b tcp dport 1-1025 counter",
		"ip6 daddr @net6_b meta l4proto udp counter",
		"ip6 daddr @net6_b meta l4proto ipv6-icmp counter",
	} {
		if !strings.Contains(script, want) {
			t.Errorf("script lacks %q:\n%s", want, script)
		}
	}
	if strings.Contains(script, "conduit_narrow\" accept") {
		t.Error("a conduit from an IPv4-only asset into an IPv6-only zone must compile to no rule")
	}
	if strings.Contains(script, "ip daddr @net4_b") {
		t.Error("zone b has no IPv4 network, yet a rule matches it")
	}
}

// nftCheck runs `nft -c -f` on a script inside a throwaway namespace.
func nftCheck(t *testing.T, script string) {
	t.Helper()
	prereq.Netns(t)
	prereq.Command(t, "nft", "nftables")
	ns := scratchNS(t, "zgchk")
	f := filepath.Join(t.TempDir(), "plan.nft")
	if err := os.WriteFile(f, []byte(script), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("ip", "netns", "exec", ns, "nft", "-c", "-f", f).CombinedOutput(); err != nil {
		t.Fatalf("nft -c -f rejects the plan: %v\n%s", err, out)
	}
}

func TestPlanAcceptedByNft(t *testing.T) {
	m := loadFile(t, examplePath)
	nftCheck(t, render(t, firewall.Compile(m, firewall.Options{})))
	nftCheck(t, render(t, firewall.Compile(m, firewall.Options{Island: true})))
	big := load(t, string(lab.GenerateModel(20, 300)))
	nftCheck(t, render(t, firewall.Compile(big, firewall.Options{})))
}

// requireRoot skips unless the test can use network namespaces and
// nftables netlink (root, iproute2, a kernel with nf_tables).
func requireRoot(t testing.TB) {
	t.Helper()
	prereq.Netns(t)
}

// scratchNS creates an empty network namespace removed after the test.
func scratchNS(t testing.TB, prefix string) string {
	t.Helper()
	name := fmt.Sprintf("%s%d", prefix, os.Getpid())
	_ = exec.Command("ip", "netns", "delete", name).Run()
	out, err := exec.Command("ip", "netns", "add", name).CombinedOutput()
	require.NoError(t, err, "ip netns add %s: %s", name, out)
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "delete", name).Run() })
	return name
}

func openNS(t testing.TB, name string) firewall.Target {
	t.Helper()
	target, err := firewall.OpenNetNS(name)
	require.NoError(t, err, "firewall.OpenNetNS")
	t.Cleanup(func() { target.Close() })
	// The namespace and nf_tables are there (requireRoot checked them), so
	// an error here is zonegate's own and fails the test.
	_, err = firewall.Current(target)
	require.NoError(t, err, "firewall.Current on an empty namespace")
	return target
}

func nftIn(t testing.TB, ns string, args ...string) string {
	t.Helper()
	out, err := exec.Command("ip", append([]string{"netns", "exec", ns, "nft"}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("nft %s in %s: %v\n%s", strings.Join(args, " "), ns, err, out)
	}
	return string(out)
}

// TestApplyEqualsNftScript: a netlink apply and `nft -f` of the plan give
// the same ruleset, as nft itself lists it; applying over a ruleset loaded
// by nft changes nothing.
func TestApplyEqualsNftScript(t *testing.T) {
	requireRoot(t)
	for name, m := range map[string]*zone.Model{
		"example": loadFile(t, examplePath),
		"large":   load(t, string(lab.GenerateModel(50, 2000))),
	} {
		t.Run(name, func(t *testing.T) {
			nsA, nsB := scratchNS(t, "zgapa"), scratchNS(t, "zgapb")
			rs := firewall.Compile(m, firewall.Options{})
			res, err := firewall.Apply(openNS(t, nsA), rs)
			if err != nil {
				t.Fatalf("apply: %v", err)
			}
			if !res.Changed {
				t.Fatal("first apply reports no change")
			}
			f := filepath.Join(t.TempDir(), "plan.nft")
			if err := os.WriteFile(f, []byte(render(t, rs)), 0o600); err != nil {
				t.Fatal(err)
			}
			nftIn(t, nsB, "-f", f)
			a, b := nftIn(t, nsA, "list", "table", "inet", "zonegate"), nftIn(t, nsB, "list", "table", "inet", "zonegate")
			if a != b {
				t.Fatalf("netlink apply and nft -f differ:\n%s", firstDiff(a, b))
			}
			res, err = firewall.Apply(openNS(t, nsB), rs)
			if err != nil {
				t.Fatalf("apply over nft -f: %v", err)
			}
			if res.Changed {
				t.Error("applying the same ruleset over what nft -f loaded was not recognised as unchanged")
			}
		})
	}
}

// TestApplyTouchesNoOtherTable and re-applies without replacing the table.
func TestApplyIsIdempotentAndLeavesOtherTables(t *testing.T) {
	requireRoot(t)
	ns := scratchNS(t, "zgidem")
	target := openNS(t, ns)
	other := "table ip vendor {\n\tchain post {\n\t\ttype nat hook postrouting priority srcnat; policy accept;\n\t\toifname \"eth9\" masquerade\n\t}\n}\n"
	f := filepath.Join(t.TempDir(), "other.nft")
	if err := os.WriteFile(f, []byte(other), 0o600); err != nil {
		t.Fatal(err)
	}
	nftIn(t, ns, "-f", f)
	before := nftIn(t, ns, "list", "table", "ip", "vendor")
	m := loadFile(t, examplePath)
	if _, err := firewall.Apply(target, firewall.Compile(m, firewall.Options{})); err != nil {
		t.Fatal(err)
	}
	handle := nftIn(t, ns, "-a", "list", "tables")
	res, err := firewall.Apply(target, firewall.Compile(m, firewall.Options{}))
	if err != nil {
		t.Fatal(err)
	}
	if res.Changed {
		t.Error("re-applying the same model changed the ruleset")
	}
	if got := nftIn(t, ns, "-a", "list", "tables"); got != handle {
		t.Errorf("re-applying recreated the table (handles changed):\n%s\nvs\n%s", handle, got)
	}
	if _, err := firewall.Apply(target, firewall.Compile(m, firewall.Options{Island: true})); err != nil {
		t.Fatal(err)
	}
	if after := nftIn(t, ns, "list", "table", "ip", "vendor"); after != before {
		t.Errorf("apply changed another table:\nbefore:\n%s\nafter:\n%s", before, after)
	}
	if err := firewall.Remove(target); err != nil {
		t.Fatal(err)
	}
	if after := nftIn(t, ns, "list", "table", "ip", "vendor"); after != before {
		t.Error("remove changed another table")
	}
}

// TestRejectedApplyKeepsOldRuleset: a batch the kernel refuses leaves the
// previous table in place, intact.
func TestRejectedApplyKeepsOldRuleset(t *testing.T) {
	requireRoot(t)
	ns := scratchNS(t, "zgrej")
	target := openNS(t, ns)
	m := loadFile(t, examplePath)
	good := firewall.Compile(m, firewall.Options{})
	if _, err := firewall.Apply(target, good); err != nil {
		t.Fatal(err)
	}
	before := nftIn(t, ns, "list", "ruleset")
	bad := firewall.Compile(m, firewall.Options{Island: true})
	fwd := bad.Chain(firewall.ChainForward)
	fwd.Rules = append(fwd.Rules, &firewall.Rule{Stmts: []firewall.Stmt{firewall.Jump("no_such_chain")}})
	if _, err := firewall.Apply(target, bad); err == nil {
		t.Fatal("a ruleset jumping to a missing chain was accepted")
	}
	if after := nftIn(t, ns, "list", "ruleset"); after != before {
		t.Errorf("a rejected apply changed the ruleset:\n%s", firstDiff(before, after))
	}
	fp, err := firewall.Current(target)
	if err != nil {
		t.Fatal(err)
	}
	if !fp.Equal(firewall.Expected(good)) {
		t.Error("the kernel no longer holds the previous ruleset")
	}
}

// TestCurrentDetectsDrift: a rule added by hand shows in the fingerprint.
func TestCurrentDetectsDrift(t *testing.T) {
	requireRoot(t)
	ns := scratchNS(t, "zgdrift")
	target := openNS(t, ns)
	rs := firewall.Compile(loadFile(t, examplePath), firewall.Options{})
	if _, err := firewall.Apply(target, rs); err != nil {
		t.Fatal(err)
	}
	nftIn(t, ns, "insert", "rule", "inet", "zonegate", "forward", "tcp", "dport", "23", "accept")
	fp, err := firewall.Current(target)
	if err != nil {
		t.Fatal(err)
	}
	if fp.Equal(firewall.Expected(rs)) {
		t.Fatal("a rule inserted by hand was not noticed")
	}
	nftIn(t, ns, "add", "element", "inet", "zonegate", "forward_pairs", `{ "eth0" . "eth4" : accept }`)
	res, err := firewall.Apply(target, rs)
	if err != nil || !res.Changed {
		t.Fatalf("re-apply after drift: changed=%v err=%v", res.Changed, err)
	}
	fp, _ = firewall.Current(target)
	if !fp.Equal(firewall.Expected(rs)) {
		t.Fatal("re-apply did not restore the expected ruleset")
	}
}

func TestGenerationMovesWithEveryTransaction(t *testing.T) {
	requireRoot(t)
	ns := scratchNS(t, "zggen")
	target := openNS(t, ns)
	g1, err := firewall.Generation(target)
	if err != nil {
		t.Fatal(err)
	}
	if g2, _ := firewall.Generation(target); g2 != g1 {
		t.Fatalf("generation moved without a transaction: %d -> %d", g1, g2)
	}
	nftIn(t, ns, "add", "table", "ip", "other")
	g3, err := firewall.Generation(target)
	if err != nil {
		t.Fatal(err)
	}
	if g3 == g1 {
		t.Fatal("generation did not move after a transaction")
	}
}

func TestLockdownAndCounters(t *testing.T) {
	script := render(t, firewall.Lockdown(firewall.Options{}))
	nftCheck(t, script)
	if !strings.Contains(script, "policy drop") || strings.Contains(script, "hook input") {
		t.Errorf("lockdown must drop forwarding and leave input alone:\n%s", script)
	}
	requireRoot(t)
	ns := scratchNS(t, "zgcnt")
	target := openNS(t, ns)
	if cs, err := firewall.Counters(target); err != nil || len(cs) != 0 {
		t.Fatalf("counters without a table: %v %v", cs, err)
	}
	if _, err := firewall.Apply(target, firewall.Compile(loadFile(t, examplePath), firewall.Options{})); err != nil {
		t.Fatal(err)
	}
	cs, err := firewall.Counters(target)
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, c := range cs {
		names[c.Name] = true
	}
	if !names["conduit_scada-to-plc"] || !names["dropped_forward"] || !names["spoofed_office"] {
		t.Errorf("counters: %v", cs)
	}
}

func TestFingerprintSummary(t *testing.T) {
	requireRoot(t)
	ns := scratchNS(t, "zgsum")
	target := openNS(t, ns)
	rs := firewall.Compile(loadFile(t, examplePath), firewall.Options{})
	if _, err := firewall.Apply(target, rs); err != nil {
		t.Fatal(err)
	}
	want := firewall.Expected(rs)
	nftIn(t, ns, "insert", "rule", "inet", "zonegate", "forward", "tcp", "dport", "23", "accept")
	nftIn(t, ns, "add", "element", "inet", "zonegate", "forward_pairs", `{ "eth0" . "eth4" : accept }`)
	cur, err := firewall.Current(target)
	if err != nil {
		t.Fatal(err)
	}
	got := want.Summary(cur)
	for _, part := range []string{"rules of chain forward: 1 rule(s) not installed by zonegate, 0 missing or changed", "set forward_pairs changed"} {
		if !strings.Contains(got, part) {
			t.Errorf("summary %q lacks %q", got, part)
		}
	}
	if got := want.Summary(nil); got != "table inet zonegate is missing" {
		t.Errorf("summary of a missing table: %q", got)
	}
}
