// Package bench holds zonegate's benchmarks that need a namespace lab:
// new connections per second through the gateway for small and large
// rulesets, measured in one run so the ratio survives a noisy machine.
package bench

import (
	"context"
	"fmt"
	"net"
	"runtime"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vishvananda/netns"

	"github.com/zonegate/zonegate/firewall"
	"github.com/zonegate/zonegate/gateway/zone"
	"github.com/zonegate/zonegate/test/lab"
	"github.com/zonegate/zonegate/test/prereq"
)

// twoZones are zones z0 and z1 exactly as lab.GenerateModel writes them,
// so the lab built from it carries the traffic of the generated rulesets.
const twoZones = `
version: 1
gateway: {name: bench-gw, management: {zones: [z0]}}
zones:
  - {name: z0, importance: low, interfaces: [e0], networks: [198.18.0.0/24, "fd00:1::/64"]}
  - {name: z1, importance: medium, interfaces: [e1], networks: [198.18.1.0/24, "fd00:2::/64"]}
`

// BenchmarkNewConnections opens TCP connections from zone z0 to zone z1
// through conduit c0 (tcp/10000) of a generated model with 200 zones and
// either 10 or 10,000 conduits. Both rulesets are measured in alternating
// rounds within one run; the reported ratio large/small is the number that
// matters (goal: at least 0.9).
func BenchmarkNewConnections(b *testing.B) {
	prereq.Netns(b)
	small, err := zone.Load("small.yaml", lab.GenerateModel(200, 10))
	if err != nil {
		b.Fatal(err)
	}
	large, err := zone.Load("large.yaml", lab.GenerateModel(200, 10000))
	if err != nil {
		b.Fatal(err)
	}
	labModel, err := zone.Load("lab.yaml", []byte(twoZones))
	if err != nil {
		b.Fatal(err)
	}
	_ = lab.DownPrefix("zgbc")
	l, err := lab.Up(labModel, lab.Options{Prefix: "zgbc"})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Down()
	target, err := firewall.OpenNetNS(l.Gateway)
	if err != nil {
		b.Fatal(err)
	}
	defer target.Close()
	if _, err := firewall.Current(target); err != nil {
		b.Fatalf("firewall.Current: %v", err)
	}
	rulesets := map[string]*firewall.Ruleset{
		"10":    firewall.Compile(small, firewall.Options{}),
		"10000": firewall.Compile(large, firewall.Options{}),
	}
	srvAddr, _ := l.Zones["z1"].Addr(4)
	ln, err := lab.Listen(l.Zones["z1"].NS, "tcp", net.JoinHostPort(srvAddr.String(), "10000"))
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()

	const roundTime = 1500 * time.Millisecond
	rates := map[string][]float64{}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for round := 0; round < 3; round++ {
			for _, size := range []string{"10", "10000"} {
				if _, err := firewall.Apply(target, rulesets[size]); err != nil {
					b.Fatal(err)
				}
				n, err := connect(l.Zones["z0"].NS, ln.Addr().String(), roundTime)
				if err != nil {
					b.Fatal(err)
				}
				rates[size] = append(rates[size], float64(n)/roundTime.Seconds())
			}
		}
	}
	b.StopTimer()
	s, g := median(rates["10"]), median(rates["10000"])
	b.ReportMetric(s, "conn/s@10")
	b.ReportMetric(g, "conn/s@10000")
	b.ReportMetric(g/s, "ratio")
	b.Logf("new TCP connections per second through the gateway: 10 conduits %.0f, 10,000 conduits %.0f, ratio %.3f (rounds: %v / %v)", s, g, g/s, rates["10"], rates["10000"])
}

func median(v []float64) float64 {
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	return s[len(s)/2]
}

// connect opens and resets connections from namespace ns to addr with a few
// workers for d, and returns how many were established. Each worker locks
// its thread into ns once, so no namespace switch is paid per connection.
func connect(ns, addr string, d time.Duration) (int64, error) {
	var count atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	deadline := time.Now().Add(d)
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			runtime.LockOSThread() // never unlocked: the thread dies with the goroutine
			h, err := netns.GetFromName(ns)
			if err != nil {
				errs <- err
				return
			}
			defer h.Close()
			if err := netns.Set(h); err != nil {
				errs <- err
				return
			}
			var dialer net.Dialer
			for ctx.Err() == nil {
				c, err := dialer.DialContext(ctx, "tcp", addr)
				if err != nil {
					// A dial cut short by the end of the round is no failure.
					if time.Until(deadline) > 100*time.Millisecond {
						errs <- fmt.Errorf("connect %s: %w", addr, err)
					}
					return
				}
				c.(*net.TCPConn).SetLinger(0) // reset: no TIME_WAIT, ports are reused at once
				c.Close()
				count.Add(1)
			}
		}()
	}
	wg.Wait()
	close(errs)
	return count.Load(), <-errs
}
