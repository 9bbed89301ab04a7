package e2e

import (
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vishvananda/netns"

	"github.com/zonegate/zonegate/test/lab"
)

// mbCountingPLC is a Modbus device in an asset's namespace that answers
// FC 3 reads (register n holds 1000+n, as mbGoPLC) and counts its TCP
// connections: accepted in all, open now and open at most.
type mbCountingPLC struct {
	ln       net.Listener
	accepted atomic.Int64
	open     atomic.Int64
	maxOpen  atomic.Int64
	requests atomic.Int64
	mu       sync.Mutex
	conns    map[net.Conn]bool
	// hook, when set, sees every request of device connection n (from 1)
	// first and returns true when it answered it (or will not).
	hook func(n int64, c net.Conn, req []byte) bool
}

func mbStartCountingPLC(t *testing.T, ns, hostport string) *mbCountingPLC {
	t.Helper()
	return mbStartHookedPLC(t, ns, hostport, nil)
}

// mbStartHookedPLC is mbStartCountingPLC with a hook.
func mbStartHookedPLC(t *testing.T, ns, hostport string, hook func(n int64, c net.Conn, req []byte) bool) *mbCountingPLC {
	t.Helper()
	ln, err := lab.Listen(ns, "tcp", hostport)
	if err != nil {
		t.Fatalf("listen on %s in %s: %v", hostport, ns, err)
	}
	p := &mbCountingPLC{ln: ln, conns: map[net.Conn]bool{}, hook: hook}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			id := p.accepted.Add(1)
			n := p.open.Add(1)
			for {
				m := p.maxOpen.Load()
				if n <= m || p.maxOpen.CompareAndSwap(m, n) {
					break
				}
			}
			p.mu.Lock()
			p.conns[c] = true
			p.mu.Unlock()
			go p.serve(id, c)
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		p.mu.Lock()
		for c := range p.conns {
			c.Close()
		}
		p.mu.Unlock()
	})
	return p
}

func (p *mbCountingPLC) serve(id int64, c net.Conn) {
	defer func() {
		c.Close()
		p.open.Add(-1)
		p.mu.Lock()
		delete(p.conns, c)
		p.mu.Unlock()
	}()
	buf := make([]byte, 260)
	out := make([]byte, 0, 260)
	for {
		if _, err := io.ReadFull(c, buf[:7]); err != nil {
			return
		}
		n := int(binary.BigEndian.Uint16(buf[4:]))
		if n < 2 || n > 254 {
			return
		}
		if _, err := io.ReadFull(c, buf[7:6+n]); err != nil {
			return
		}
		p.requests.Add(1)
		if p.hook != nil && p.hook(id, c, buf[:6+n]) {
			continue
		}
		pdu := buf[7 : 6+n]
		out = append(out[:0], buf[:7]...)
		if pdu[0] != 3 || len(pdu) != 5 {
			out = append(out, pdu[0]|0x80, 1)
		} else {
			addr, qty := binary.BigEndian.Uint16(pdu[1:]), binary.BigEndian.Uint16(pdu[3:])
			out = append(out, 3, byte(2*qty))
			for _, v := range regsAt(addr, qty) {
				out = binary.BigEndian.AppendUint16(out, v)
			}
		}
		binary.BigEndian.PutUint16(out[4:], uint16(len(out)-6))
		if _, err := c.Write(out); err != nil {
			return
		}
	}
}

// mbOneRead reads qty registers from addr with transaction id tid over c
// and checks the answer.
func mbOneRead(c net.Conn, tid, addr, qty uint16) error {
	if _, err := c.Write(mbFrame(tid, 1, mbReadHR(addr, qty)...)); err != nil {
		return err
	}
	f, err := mbReadFrame(c)
	if err != nil {
		return err
	}
	if got := binary.BigEndian.Uint16(f); got != tid {
		return fmt.Errorf("answer with transaction id %d, want %d", got, tid)
	}
	return mbCheckRegs(f[7:], addr, qty)
}

// mbNSWorkers runs n goroutines, each on a thread of its own inside
// network namespace ns for its whole life (a thread that ends locked is
// thrown away, so none goes back to the runtime in ns): the sockets they
// open live in ns, without a namespace switch per connection.
func mbNSWorkers(ns string, n int, work func(i int)) error {
	target, err := netns.GetFromName(ns)
	if err != nil {
		return fmt.Errorf("open network namespace %s: %w", ns, err)
	}
	defer target.Close()
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			runtime.LockOSThread() // never unlocked: the thread ends with the goroutine
			if err := netns.Set(target); err != nil {
				errs <- err
				return
			}
			work(i)
		}()
	}
	wg.Wait()
	close(errs)
	return <-errs
}

// mbTimeWait counts the TCP sockets in TIME_WAIT in namespace ns: in all,
// and those whose peer is peer (the device side of the gateway).
func mbTimeWait(t *testing.T, ns string, peer netip.AddrPort) (all, toPeer int) {
	t.Helper()
	out, err := exec.Command("ip", "netns", "exec", ns, "ss", "-Htan", "state", "time-wait").Output()
	if err != nil {
		t.Fatalf("ss in %s: %v", ns, err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		if len(f) < 4 {
			continue
		}
		all++
		if f[len(f)-1] == peer.String() {
			toPeer++
		}
	}
	return all, toPeer
}

// TestModbusSharedDeviceConnection: the device side of the proxy, end to
// end in namespaces, with a PLC that counts its TCP connections.
//
//   - 50 clients reading at the same time, each on its own connection,
//     reach the PLC over one connection (max_device_connections'
//     default), and each gets its own answers.
//   - Two rounds of 20,000 short client connections (one request each, 32
//     in parallel, from 200 source addresses of the client zone), back to
//     back: every request is answered, the PLC still sees one connection,
//     and the gateway keeps no TIME_WAIT towards the PLC.
func TestModbusSharedDeviceConnection(t *testing.T) {
	mbRequire(t)
	bin := mbBuildZonegate(t)
	model := mbWriteFile(t, t.TempDir(), "model.yaml", mbModel)
	l := upLab(t, loadModelText(t, mbModel), "zgmbd")
	scada := l.Assets["scada"].NS
	plc := mbStartCountingPLC(t, l.Assets["plc-go"].NS, mbPLCGo+":502")
	mbStartDaemon(t, bin, l, model)
	target := mbPLCGo + ":502"
	// 200 source addresses in the client zone, as the attack had (the
	// daemon admits 32 connections per source address).
	var srcs []netip.Addr
	for i := 50; i < 250; i++ {
		a := netip.AddrFrom4([4]byte{198, 18, 100, byte(i)})
		if out, err := exec.Command("ip", "netns", "exec", scada, "ip", "addr", "add", a.String()+"/24", "dev", "eth0", "nodad").CombinedOutput(); err != nil {
			t.Fatalf("add %s to the client's namespace: %v: %s", a, err, out)
		}
		srcs = append(srcs, a)
	}
	dialFrom := func(i int64) net.Dialer {
		return net.Dialer{Timeout: 5 * time.Second, LocalAddr: &net.TCPAddr{IP: srcs[i%int64(len(srcs))].AsSlice()}}
	}

	t.Run("50Clients", func(t *testing.T) {
		var failed atomic.Int64
		var firstErr atomic.Pointer[error]
		err := mbNSWorkers(scada, 50, func(i int) {
			fail := func(err error) {
				failed.Add(1)
				firstErr.CompareAndSwap(nil, &err)
			}
			d := dialFrom(int64(i))
			c, err := d.Dial("tcp", target)
			if err != nil {
				fail(err)
				return
			}
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(30 * time.Second))
			for j := range 20 {
				if err := mbOneRead(c, uint16(j), uint16((i+j)%90), 10); err != nil {
					fail(fmt.Errorf("client %d request %d: %w", i, j, err))
					return
				}
			}
		})
		if err != nil {
			t.Fatal(err)
		}
		if n := failed.Load(); n > 0 {
			t.Errorf("%d of 50 clients failed, first: %v", n, *firstErr.Load())
		}
		if got := plc.accepted.Load(); got != 1 {
			t.Errorf("the PLC accepted %d connections for 50 clients, want 1", got)
		}
		t.Logf("50 clients x 20 reads: the PLC accepted %d connection(s), at most %d open, %d requests", plc.accepted.Load(), plc.maxOpen.Load(), plc.requests.Load())
	})

	t.Run("Churn2x20000", func(t *testing.T) {
		before := plc.accepted.Load()
		device := netip.MustParseAddrPort(target)
		for round := 1; round <= 2; round++ {
			const total, parallel = 20000, 32
			var next, answered, failed atomic.Int64
			var mu sync.Mutex
			var samples []string
			start := time.Now()
			err := mbNSWorkers(scada, parallel, func(int) {
				for {
					i := next.Add(1) - 1
					if i >= total {
						return
					}
					d := dialFrom(i)
					err := func() error {
						c, err := d.Dial("tcp", target)
						if err != nil {
							return err
						}
						defer c.Close()
						_ = c.SetDeadline(time.Now().Add(10 * time.Second))
						return mbOneRead(c, uint16(i), uint16(i%90), 1)
					}()
					if err != nil {
						failed.Add(1)
						mu.Lock()
						if len(samples) < 5 {
							samples = append(samples, err.Error())
						}
						mu.Unlock()
						continue
					}
					answered.Add(1)
				}
			})
			if err != nil {
				t.Fatal(err)
			}
			elapsed := time.Since(start)
			all, toPLC := mbTimeWait(t, l.Gateway, device)
			t.Logf("round %d: %d of %d requests answered, %d failed, in %s (%.0f connections/s); gateway TIME_WAIT: %d in all, %d towards the PLC; the PLC accepted %d connection(s) in all",
				round, answered.Load(), total, failed.Load(), elapsed.Round(time.Millisecond), float64(total)/elapsed.Seconds(), all, toPLC, plc.accepted.Load())
			if failed.Load() > 0 {
				t.Errorf("round %d: %d requests not answered, for example %v", round, failed.Load(), samples)
			}
			if toPLC > 1 {
				t.Errorf("round %d: %d TIME_WAIT sockets towards the PLC, want at most one (max_device_connections)", round, toPLC)
			}
		}
		if got := plc.accepted.Load() - before; got > 0 {
			t.Errorf("the churn opened %d more device connections; the first one serves them all", got)
		}
		if m := plc.maxOpen.Load(); m > 1 {
			t.Errorf("the PLC saw %d connections open at once, want at most 1", m)
		}
	})
}
