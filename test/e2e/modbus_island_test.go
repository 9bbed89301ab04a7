package e2e

import (
	"errors"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestModbusIslandResetsBusyClients: 64 client connections keep reading
// through the Modbus proxy (from 4 source addresses of the client zone)
// when an operator turns island mode on. Every client sees its
// connection end with a reset (or an orderly end), never by its own 5 s
// read timeout: the proxy resets them before the island ruleset is
// applied and conntrack flushed, so the resets carry the addresses the
// clients know (the PLC's). The test reports how long after `island on`
// each connection ended, and that no client of the zone is reported as a
// spoofed source.
func TestModbusIslandResetsBusyClients(t *testing.T) {
	mbRequire(t)
	bin := mbBuildZonegate(t)
	l := upLab(t, loadModelText(t, mbModel), "zgmbi")
	scada := l.Assets["scada"].NS
	plc := mbStartCountingPLC(t, l.Assets["plc-go"].NS, mbPLCGo+":502")
	// Events (the NFLOG drops among them) are logged once per interval:
	// 1 s, so that the check below sees the table swap's within the test.
	d := mgStartDaemon(t, bin, l.Gateway, mgSettings("events:\n  interval: 1s"), mbModel)
	d.initAdmin(t)
	target := mbPLCGo + ":502"
	var srcs []netip.Addr
	for i := 50; i < 54; i++ {
		a := netip.AddrFrom4([4]byte{198, 18, 100, byte(i)})
		if out, err := exec.Command("ip", "netns", "exec", scada, "ip", "addr", "add", a.String()+"/24", "dev", "eth0", "nodad").CombinedOutput(); err != nil {
			t.Fatalf("add %s to the client's namespace: %v: %s", a, err, out)
		}
		srcs = append(srcs, a)
	}

	const clients = 64
	type end struct {
		at    time.Time
		err   error
		reads int
	}
	ends := make([]end, clients)
	var ready sync.WaitGroup
	ready.Add(clients)
	var cut time.Time
	var cutMu sync.Mutex
	done := make(chan error, 1)
	go func() {
		done <- mbNSWorkers(scada, clients, func(i int) {
			readied := false
			defer func() {
				if !readied {
					ready.Done()
				}
			}()
			dl := net.Dialer{Timeout: 5 * time.Second, LocalAddr: &net.TCPAddr{IP: srcs[i%len(srcs)].AsSlice()}}
			var c net.Conn
			var err error
			for try := 0; try < 100; try++ { // until the proxy listens
				if c, err = dl.Dial("tcp", target); err == nil {
					break
				}
				time.Sleep(100 * time.Millisecond)
			}
			if err != nil {
				ends[i] = end{at: time.Now(), err: err}
				return
			}
			defer c.Close()
			for j := 0; ; j++ {
				_ = c.SetDeadline(time.Now().Add(5 * time.Second))
				if err := mbOneRead(c, uint16(j), uint16(j%90), 4); err != nil {
					ends[i] = end{at: time.Now(), err: err, reads: j}
					return
				}
				if !readied {
					readied = true
					ready.Done()
				}
			}
		})
	}()
	ready.Wait()
	for i, e := range ends {
		if e.err != nil {
			t.Fatalf("client %d failed before island mode: %v", i, e.err)
		}
	}
	time.Sleep(200 * time.Millisecond) // all of them busy
	from := len(d.log.String())
	cutMu.Lock()
	cut = time.Now()
	cutMu.Unlock()
	d.mustCLI(t, "admin", "", "island", "on")
	returned := time.Since(cut)
	if err := <-done; err != nil {
		t.Fatal(err)
	}

	var took []time.Duration
	kinds := map[string]int{}
	for i, e := range ends {
		kind := "other"
		var ne net.Error
		switch {
		case errors.Is(e.err, syscall.ECONNRESET):
			kind = "reset"
		case mbIsReset(e.err):
			kind = "end of stream"
		case errors.As(e.err, &ne) && ne.Timeout(), errors.Is(e.err, os.ErrDeadlineExceeded):
			kind = "own read timeout"
		}
		kinds[kind]++
		if kind != "reset" && kind != "end of stream" {
			t.Errorf("client %d (after %d reads): its connection ended by %v (%s), want a reset", i, e.reads, e.err, kind)
		}
		took = append(took, e.at.Sub(cut))
	}
	slices.Sort(took)
	t.Logf("island on (the CLI returned after %s): %d client connections ended: %v; after %s (first), %s (median), %s (last); the PLC accepted %d connection(s)",
		returned.Round(time.Millisecond), clients, kinds, took[0].Round(time.Millisecond), took[clients/2].Round(time.Millisecond),
		took[clients-1].Round(time.Millisecond), plc.accepted.Load())

	// The resets went out before the ruleset changed and conntrack was
	// flushed: the proxies' line comes first.
	log := d.log.String()[from:]
	resetAt := strings.Index(log, "reset before the ruleset change")
	if resetAt < 0 {
		t.Errorf("no log line of the proxies' reset before the ruleset change:\n%s", mgTail(log, 30))
	}
	if flushAt := strings.Index(log, "connections no longer allowed were removed"); flushAt >= 0 && resetAt > flushAt {
		t.Errorf("the conntrack flush came before the proxies' reset:\n%s", mgTail(log, 30))
	}
	// A spoofed source is a dropped packet read from NFLOG and logged with
	// its count once per events interval. So that the check can see the
	// clients' events at all, one client tries a new connection in island
	// mode (dropped or refused: an event with its address); then wait for
	// two flushes before looking.
	if err := mbNSWorkers(scada, 1, func(int) {
		dl := net.Dialer{Timeout: 300 * time.Millisecond, LocalAddr: &net.TCPAddr{IP: srcs[0].AsSlice()}}
		if c, err := dl.Dial("tcp", target); err == nil {
			c.SetDeadline(time.Now().Add(300 * time.Millisecond))
			_, _ = c.Write([]byte{0, 1, 0, 0, 0, 6, 1, 3, 0, 0, 0, 1})
			_, _ = c.Read(make([]byte, 16))
			c.Close()
		}
	}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2500 * time.Millisecond)
	log = d.log.String()[from:]
	var about []string
	for _, line := range strings.Split(log, "\n") {
		if !strings.Contains(line, `"source":"198.18.100.`) {
			continue
		}
		about = append(about, line)
		if strings.Contains(line, "spoof") {
			t.Errorf("a client of its own zone reported as spoofed during the table swap: %s", line)
		}
	}
	if len(about) == 0 {
		t.Errorf("no event line about the clients after island on, not even the new connection's: the spoof check above saw nothing:\n%s", mgTail(log, 30))
	}
	t.Logf("%d event line(s) about the clients after island on, none spoofed; the first: %.300s", len(about), strings.Join(about, "\n"))
}
