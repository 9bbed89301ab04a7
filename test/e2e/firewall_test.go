package e2e

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/zonegate/zonegate/firewall"
	"github.com/zonegate/zonegate/test/lab"
)

// TestExampleFactoryTraffic applies the example factory in a namespace lab
// and proves with real TCP, UDP and ICMP (v4 and v6) that every conduit
// works in its direction and that reverse directions, neighbouring ports,
// zone pairs without conduits and spoofed sources are dropped.
func TestExampleFactoryTraffic(t *testing.T) {
	requireNetns(t)
	m := loadModel(t, repoFile(t, "configs/example-factory.yaml"))
	l := upLab(t, m, "zge2e")
	target := gatewayTarget(t, l)
	if _, err := firewall.Apply(target, firewall.Compile(m, firewall.Options{})); err != nil {
		t.Fatalf("apply: %v", err)
	}
	cases := l.Cases()
	results, err := l.Probe(context.Background(), cases, lab.ProbeOptions{SkipInspect: true})
	if err != nil {
		t.Fatalf("probe: %v", err)
	}
	kinds := map[string]int{}
	for _, r := range results {
		if r.Skipped != "" {
			continue
		}
		verdict := "drop"
		if r.Expect {
			verdict = "pass"
		}
		kinds[fmt.Sprintf("%s/v%d/%s", r.Proto, r.Family(), verdict)]++
		if r.Spoofed {
			kinds["spoofed"]++
		}
		if r.Mismatch() {
			t.Errorf("%s -> %s %s (%s -> %s, %s): expected %s, got through=%v %s",
				r.From, r.To, r.Service(), r.SrcAddr, r.DstAddr, r.Why, verdict, r.Got, r.Err)
		}
	}
	// The example must exercise every protocol and family both ways, or
	// this test proves less than it claims.
	for _, k := range []string{"tcp/v4/pass", "tcp/v4/drop", "tcp/v6/pass", "tcp/v6/drop", "udp/v4/pass", "udp/v4/drop",
		"icmp/v4/pass", "icmpv6/v6/pass", "spoofed"} {
		if kinds[k] == 0 {
			t.Errorf("no probe case of kind %s: the example factory or the case generator lost coverage (%v)", k, kinds)
		}
	}
	t.Logf("probe cases by kind: %v", kinds)
}

// TestRemovedConduitStopsSession shows that an established TCP session
// through a conduit stops once a model without that conduit is applied.
func TestRemovedConduitStopsSession(t *testing.T) {
	requireNetns(t)
	const withConduit = `
version: 1
gateway: {name: gw, management: {zones: [a]}}
zones:
  - {name: a, importance: low, interfaces: [eth0], networks: [198.18.1.0/24, "fd00:1::/64"]}
  - {name: b, importance: low, interfaces: [eth1], networks: [198.18.2.0/24, "fd00:2::/64"]}
conduits:
  - {name: a-to-b, from: a, to: b, services: [tcp/7000]}
`
	without := strings.Replace(withConduit, "  - {name: a-to-b, from: a, to: b, services: [tcp/7000]}\n", "", 1)
	m1 := loadModelText(t, withConduit)
	m2 := loadModelText(t, without)
	l := upLab(t, m1, "zgrm")
	target := gatewayTarget(t, l)
	if _, err := firewall.Apply(target, firewall.Compile(m1, firewall.Options{})); err != nil {
		t.Fatalf("apply: %v", err)
	}
	for _, fam := range []int{4, 6} {
		t.Run(fmt.Sprintf("IPv%d", fam), func(t *testing.T) {
			if _, err := firewall.Apply(target, firewall.Compile(m1, firewall.Options{})); err != nil {
				t.Fatalf("apply: %v", err)
			}
			srvAddr, _ := l.Zones["b"].Addr(fam)
			ln, err := lab.Listen(l.Zones["b"].NS, "tcp", netip.AddrPortFrom(srvAddr, 7000).String())
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			go echoServer(ln)
			conn, err := lab.Dial(l.Zones["a"].NS, "tcp", ln.Addr().String(), 2*time.Second)
			if err != nil {
				t.Fatalf("connect through conduit a-to-b: %v", err)
			}
			defer conn.Close()
			if !echoes(conn, "before") {
				t.Fatal("the session does not carry data through the conduit")
			}
			if _, err := firewall.Apply(target, firewall.Compile(m2, firewall.Options{})); err != nil {
				t.Fatalf("apply without conduit: %v", err)
			}
			n, err := firewall.FlushDisallowed(target, m2, firewall.Options{})
			if err != nil {
				t.Fatalf("flush conntrack: %v", err)
			}
			if n == 0 {
				t.Errorf("no conntrack entry was deleted for the removed conduit")
			}
			if echoes(conn, "after") {
				t.Fatal("the established session still carries data after its conduit was removed")
			}
		})
	}
}

func echoServer(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			r := bufio.NewReader(c)
			for {
				line, err := r.ReadString('\n')
				if err != nil {
					return
				}
				if _, err := c.Write([]byte(line)); err != nil {
					return
				}
			}
		}()
	}
}

// echoes sends a line and reports whether it comes back within a second.
func echoes(c net.Conn, msg string) bool {
	_ = c.SetDeadline(time.Now().Add(time.Second))
	if _, err := fmt.Fprintf(c, "%s\n", msg); err != nil {
		return false
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	return err == nil && line == msg+"\n"
}

// TestSpoofProbeSeesSpoofedPackets guards the spoofed-source probes: with
// the anti-spoofing rule taken out of the ruleset, the forged packets must
// arrive, so the probes that pass above really prove anti-spoofing.
func TestSpoofProbeSeesSpoofedPackets(t *testing.T) {
	requireNetns(t)
	m := loadModel(t, repoFile(t, "configs/example-factory.yaml"))
	l := upLab(t, m, "zgsp")
	rs := firewall.Compile(m, firewall.Options{})
	pre := rs.Chain(firewall.ChainPrerouting)
	pre.Rules = pre.Rules[:len(pre.Rules)-1] // drop `iifname vmap @spoof_check`
	if _, err := firewall.Apply(gatewayTarget(t, l), rs); err != nil {
		t.Fatalf("apply: %v", err)
	}
	var spoofed []lab.Case
	for _, c := range l.Cases() {
		if c.Spoofed {
			spoofed = append(spoofed, c)
		}
	}
	if len(spoofed) == 0 {
		t.Fatal("the example factory yields no spoofed-source cases")
	}
	results, err := l.Probe(context.Background(), spoofed, lab.ProbeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range results {
		if !r.Got {
			t.Errorf("%s: a forged packet from %s did not arrive although anti-spoofing was removed (%s)", r.Why, r.SrcAddr, r.Err)
		}
	}
}

// TestICMPErrorsOfAllowedFlowsPass: an ICMP error about an allowed flow
// (port unreachable for a UDP conduit) reaches the client as a related
// packet, so applications see "connection refused" instead of a timeout.
func TestICMPErrorsOfAllowedFlowsPass(t *testing.T) {
	requireNetns(t)
	m := loadModel(t, repoFile(t, "configs/example-factory.yaml"))
	l := upLab(t, m, "zgicmp")
	if _, err := firewall.Apply(gatewayTarget(t, l), firewall.Compile(m, firewall.Options{})); err != nil {
		t.Fatal(err)
	}
	historian, _ := l.Assets["historian"].Addr(4)
	var readErr error
	err := lab.Do(l.Assets["scada-1"].NS, func() error {
		c, err := net.Dial("udp", netip.AddrPortFrom(historian, 123).String()) // conduit scada-to-historian; nothing listens
		if err != nil {
			return err
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(2 * time.Second))
		if _, err := c.Write([]byte("ntp?")); err != nil {
			return err
		}
		_, readErr = c.Read(make([]byte, 16))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if readErr == nil || !strings.Contains(readErr.Error(), "connection refused") {
		t.Fatalf("expected the historian's ICMP port unreachable to arrive (connection refused), got %v", readErr)
	}
}
