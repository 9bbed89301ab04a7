package e2e

import (
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/zonegate/zonegate/test/lab"
)

// TestLabProbeCatchesOpenedFlow applies the example factory with
// `zonegate apply`, opens one flow the model does not allow with a rule
// added by hand, and checks that `zonelab probe` reports exactly that flow
// and exits non-zero, and that it passes again once the model is
// re-applied.
func TestLabProbeCatchesOpenedFlow(t *testing.T) {
	requireNetns(t)
	labRequireNft(t)
	bins := labBuild(t)
	model := repoFile(t, "configs/example-factory.yaml")
	l := upLab(t, loadModel(t, model), "zlt1")
	labMustExec(t, bins.zonegate, "apply", "--netns", l.Gateway, model)

	rep, code := labProbeJSON(t, bins, model, l.Prefix)
	if code != 0 || rep.Summary.Mismatches != 0 || rep.Ruleset != "model" {
		t.Fatalf("the untouched example factory does not probe clean: exit %d, ruleset %s, mismatches %v", code, rep.Ruleset, rep.mismatches())
	}

	office, _ := l.Zones["office"].Addr(4)
	control, _ := l.Zones["control"].Addr(4)
	labMustExec(t, "ip", "netns", "exec", l.Gateway, "nft", "insert", "rule", "inet", "zonegate", "forward",
		"ip", "saddr", office.String(), "ip", "daddr", control.String(), "tcp", "dport", "443", "accept")

	rep, code = labProbeJSON(t, bins, model, l.Prefix)
	if code != 1 {
		t.Errorf("zonelab probe exited %d with a hand-opened flow, want 1", code)
	}
	if rep.Ruleset != "differs" {
		t.Errorf("the report says the ruleset is %q, want \"differs\" after a hand edit", rep.Ruleset)
	}
	want := []string{"office>control tcp/443 ipv4"}
	if got := rep.mismatches(); !slices.Equal(got, want) {
		t.Errorf("mismatches %v, want exactly %v", got, want)
	}
	for _, row := range rep.Results {
		if row.Status == "mismatch" && (row.Expected != "drop" || row.Actual != "pass" || row.Why != "no conduit") {
			t.Errorf("mismatch row %+v: want expected drop, actual pass, why \"no conduit\"", row)
		}
	}

	// The text matrix says the same and names the flow.
	out, _, code := labExec(t, bins.zonelab, "probe", model, "--prefix", l.Prefix)
	if code != 1 || !regexp.MustCompile(`office\s+control\s+tcp/443\s+v4\s+drop\s+pass\s+MISMATCH`).MatchString(out) {
		t.Errorf("zonelab probe (text) exited %d; the matrix should flag office -> control tcp/443:\n%s", code, out)
	}

	labMustExec(t, bins.zonegate, "apply", "--netns", l.Gateway, model)
	if rep, code = labProbeJSON(t, bins, model, l.Prefix); code != 0 {
		t.Errorf("after re-applying the model, zonelab probe exited %d with mismatches %v", code, rep.mismatches())
	}
}

// TestLabProbeCatchesMissingConduit removes conduits from the applied
// ruleset, once as a verdict map element and once as a single rule, and
// checks that exactly the cases the conduit should let through mismatch.
func TestLabProbeCatchesMissingConduit(t *testing.T) {
	requireNetns(t)
	labRequireNft(t)
	bins := labBuild(t)
	model := repoFile(t, "configs/example-factory.yaml")
	l := upLab(t, loadModel(t, model), "zlt6")

	conduitCases := func(conduit string) []string {
		var out []string
		for _, c := range l.Cases() {
			if c.Expect && c.Why == "conduit "+conduit {
				out = append(out, labRowKey(lab.Result{Case: c}.Row()))
			}
		}
		return out
	}
	nft := func(args ...string) string {
		return labMustExec(t, "ip", append([]string{"netns", "exec", l.Gateway, "nft"}, args...)...)
	}

	t.Run("map element", func(t *testing.T) {
		labMustExec(t, bins.zonegate, "apply", "--netns", l.Gateway, model)
		// supervisory (eth2) -> mes (eth1) carries only scada-to-historian.
		nft("delete", "element", "inet", "zonegate", "forward_pairs", `{ "eth2" . "eth1" }`)
		want := conduitCases("scada-to-historian")
		if len(want) != 2 {
			t.Fatalf("scada-to-historian should have a tcp and a udp case, has %v", want)
		}
		rep, code := labProbeJSON(t, bins, model, l.Prefix)
		if code != 1 {
			t.Errorf("zonelab probe exited %d without the conduit, want 1", code)
		}
		if got := rep.mismatches(); !slices.Equal(got, want) {
			t.Errorf("mismatches %v, want exactly the conduit's cases %v", got, want)
		}
	})

	t.Run("rule", func(t *testing.T) {
		labMustExec(t, bins.zonegate, "apply", "--netns", l.Gateway, model)
		listing := nft("-a", "list", "chain", "inet", "zonegate", "fwd_vendor_to_maintenance")
		m := regexp.MustCompile(`comment "conduit vendor-to-eng" # handle (\d+)`).FindStringSubmatch(listing)
		if m == nil {
			t.Fatalf("no rule of conduit vendor-to-eng in:\n%s", listing)
		}
		nft("delete", "rule", "inet", "zonegate", "fwd_vendor_to_maintenance", "handle", m[1])
		want := conduitCases("vendor-to-eng")
		rep, code := labProbeJSON(t, bins, model, l.Prefix)
		if code != 1 {
			t.Errorf("zonelab probe exited %d without the conduit's rule, want 1", code)
		}
		if got := rep.mismatches(); !slices.Equal(got, want) || len(want) == 0 {
			t.Errorf("mismatches %v, want exactly the conduit's cases %v", got, want)
		}
		for _, row := range rep.Results {
			if row.Status == "mismatch" && !strings.Contains(row.Why, "vendor-to-eng") {
				t.Errorf("unrelated mismatch %+v", row)
			}
		}
	})
}
