package lab

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"github.com/zonegate/zonegate/protocols/opcua/opcuarules"
	"net"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"sync"
	"time"

	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"

	"github.com/zonegate/zonegate/gateway/zone"
)

// Result is what a probe found.
type Result struct {
	Case
	// Got says the packet or connection got through; for a Modbus case,
	// that the request reached the device and its normal response came
	// back.
	Got     bool
	Skipped string // why the case was not run, if it was not
	Err     string // a setup problem, not a drop
	// Detail says what came back for a Modbus case, such as "exception
	// 0x02 (illegal data address)" or "connection reset".
	Detail string
	// Deviation is set when the outcome contradicts the model in a way
	// Got alone does not show: a denied request answered with an
	// exception where on_deny says reset, or a device that received a
	// request the proxy denied.
	Deviation string
}

// Mismatch reports whether the result contradicts the model.
func (r Result) Mismatch() bool {
	return r.Skipped == "" && (r.Err != "" || r.Deviation != "" || r.Got != r.Expect)
}

// NeedsModbusProxy starts the Skipped text of the cases that only the
// gateway's Modbus proxy can answer, when nothing listens on its port.
const NeedsModbusProxy = "needs the Modbus proxy"

// ProbeOptions tune Probe.
type ProbeOptions struct {
	Timeout  time.Duration // per case; a drop costs this long (default 1s)
	Parallel int           // cases in flight (default 128)
	// SkipInspect skips the tcp and Modbus cases of Modbus-inspected
	// conduits. Without it they run when something listens on the
	// gateway's Modbus proxy port, and are skipped as NeedsModbusProxy
	// otherwise.
	SkipInspect bool
	// ProxyPort is the gateway's Modbus proxy port, where inspected
	// conduits are redirected; 0: read it from the gateway's ruleset,
	// else modbusrules.Protocol.DefaultPort.
	ProxyPort uint16
}

// Probe runs the cases with real packets and reports what got through.
// Receivers (tcp listeners, udp echo servers, raw observers for spoofed
// packets) are opened before any case runs and closed afterwards.
func (l *Lab) Probe(ctx context.Context, cases []Case, opt ProbeOptions) ([]Result, error) {
	if opt.Timeout == 0 {
		opt.Timeout = time.Second
	}
	if opt.Parallel == 0 {
		opt.Parallel = 128
	}
	proxySkip := ""
	if !opt.SkipInspect && slices.ContainsFunc(cases, func(c Case) bool { return c.Inspected }) {
		port := opt.ProxyPort
		if port == 0 {
			port = l.ModbusProxyPort()
		}
		up, err := l.ModbusProxyListening(port)
		if err != nil {
			return nil, err
		}
		if !up {
			proxySkip = fmt.Sprintf("%s (nothing listens on tcp/%d in %s)", NeedsModbusProxy, port, l.Gateway)
		}
	}
	rx := newReceivers()
	defer rx.close()
	results := make([]Result, len(cases))
	// Devices for inspected conduits first, so that a plain listener
	// never takes the address of a fake PLC.
	for _, inspectedPass := range []bool{true, false} {
		for i, c := range cases {
			if c.Inspected != inspectedPass {
				continue
			}
			results[i].Case = c
			switch {
			case c.Inspected && opt.SkipInspect:
				results[i].Skipped = "inspected by the Modbus proxy, which is not running"
				continue
			case c.Inspected && proxySkip != "":
				results[i].Skipped = proxySkip
				continue
			}
			if err := rx.prepare(c); err != nil {
				return nil, fmt.Errorf("prepare receiver in %s for %s: %w", c.Dst.NS, c.Service(), err)
			}
		}
	}
	sem := make(chan struct{}, opt.Parallel)
	var wg sync.WaitGroup
	for i := range results {
		if results[i].Skipped != "" {
			continue
		}
		if ctx.Err() != nil {
			results[i].Skipped = "interrupted"
			continue
		}
		wg.Add(1)
		sem <- struct{}{}
		go func(r *Result, id int) {
			defer wg.Done()
			defer func() { <-sem }()
			if r.OPCUA != nil {
				l.runOPCUA(rx, r, opt.Timeout)
				return
			}
			if r.Modbus != nil {
				l.runModbus(rx, r, id, opt.Timeout)
				return
			}
			got, err := l.runCase(ctx, rx, r.Case, id, opt.Timeout)
			r.Got = got
			if err != nil {
				r.Err = err.Error()
			}
		}(&results[i], i)
	}
	wg.Wait()
	return results, ctx.Err()
}

func (l *Lab) runCase(ctx context.Context, rx *receivers, c Case, id int, timeout time.Duration) (bool, error) {
	if c.Spoofed {
		return rx.spoofed(ctx, c, timeout)
	}
	switch c.Proto {
	case zone.TCP:
		conn, err := Dial(c.Src.NS, "tcp", netip.AddrPortFrom(c.DstAddr, c.Port).String(), timeout)
		if err != nil {
			return false, nil
		}
		conn.Close()
		return true, nil
	case zone.UDP:
		return udpEcho(c, id, timeout)
	case zone.ICMP, zone.ICMPv6:
		return ping(c, id, timeout)
	}
	return false, fmt.Errorf("cannot probe %s", c.Proto)
}

func udpEcho(c Case, id int, timeout time.Duration) (bool, error) {
	pc, err := ListenPacket(c.Src.NS, "udp", netip.AddrPortFrom(c.SrcAddr, 0).String())
	if err != nil {
		return false, err
	}
	defer pc.Close()
	token := []byte("zonelab-probe-" + strconv.Itoa(id))
	dst := net.UDPAddrFromAddrPort(netip.AddrPortFrom(c.DstAddr, c.Port))
	if _, err := pc.WriteTo(token, dst); err != nil {
		return false, nil
	}
	_ = pc.SetReadDeadline(time.Now().Add(timeout))
	buf := make([]byte, 128)
	for {
		n, _, err := pc.ReadFrom(buf)
		if err != nil {
			return false, nil
		}
		if string(buf[:n]) == string(token) {
			return true, nil
		}
	}
}

func ping(c Case, id int, timeout time.Duration) (bool, error) {
	network, proto := "ip4:icmp", 1
	var typ, replyType icmp.Type = ipv4.ICMPTypeEcho, ipv4.ICMPTypeEchoReply
	if c.Proto == zone.ICMPv6 {
		network, proto, typ, replyType = "ip6:ipv6-icmp", 58, ipv6.ICMPTypeEchoRequest, ipv6.ICMPTypeEchoReply
	}
	var conn *icmp.PacketConn
	err := Do(c.Src.NS, func() (err error) {
		conn, err = icmp.ListenPacket(network, c.SrcAddr.String())
		return err
	})
	if err != nil {
		return false, err
	}
	defer conn.Close()
	echoID := (os.Getpid() + id) & 0xffff
	msg := icmp.Message{Type: typ, Body: &icmp.Echo{ID: echoID, Seq: id & 0xffff, Data: []byte("zonelab")}}
	b, err := msg.Marshal(nil)
	if err != nil {
		return false, err
	}
	if _, err := conn.WriteTo(b, &net.IPAddr{IP: c.DstAddr.AsSlice()}); err != nil {
		return false, nil
	}
	_ = conn.SetReadDeadline(time.Now().Add(timeout))
	buf := make([]byte, 1500)
	for {
		n, from, err := conn.ReadFrom(buf)
		if err != nil {
			return false, nil
		}
		rm, err := icmp.ParseMessage(proto, buf[:n])
		if err != nil || rm.Type != replyType {
			continue
		}
		if e, ok := rm.Body.(*icmp.Echo); ok && e.ID == echoID && from.String() == c.DstAddr.String() {
			return true, nil
		}
	}
}

// runModbus sends a Modbus case's request through the proxy and checks
// the answer and what the device received.
func (l *Lab) runModbus(rx *receivers, r *Result, id int, timeout time.Duration) {
	op := *r.Modbus
	plc := rx.plc(r.Case)
	if plc == nil {
		r.Err = "no fake PLC at the destination"
		return
	}
	dst := netip.AddrPortFrom(r.DstAddr, r.Port).String()
	dial := func() (net.Conn, error) { return Dial(r.Src.NS, "tcp", dst, timeout) }
	if r.TLS != nil {
		dial = func() (net.Conn, error) { return dialTLS(r.Src.NS, dst, r.TLS, timeout) }
	}
	out := modbusExchange(dial, op, uint16(id), timeout)
	r.Detail = out.detail
	r.Got, r.Deviation = judgeModbus(op, out, plc.Count(op.matches) > 0)
}

// judgeModbus decides what a Modbus outcome means: got says the request
// reached the device and its normal response came back; deviation names
// what else contradicts the model.
func judgeModbus(op ModbusOp, out modbusOutcome, reached bool) (got bool, deviation string) {
	denied := op.Want != WantResponse
	if out.kind == WantResponse && !out.noAnswer {
		switch {
		case !reached:
			return false, "a normal response came back, but the device never received the request"
		case denied:
			return true, "the device received the denied request"
		}
		return true, ""
	}
	switch {
	case reached && denied:
		return false, "the device received the denied request"
	case !denied:
		return false, "" // Got=false against Expect=true tells
	case out.noAnswer:
		return false, fmt.Sprintf("expected %s, got %s", op.Want.article(), out.detail)
	case out.kind != op.Want:
		return false, fmt.Sprintf("expected %s as on_deny says, got %s", op.Want.article(), out.detail)
	}
	return false, ""
}

// receivers are the servers the probes talk to, one per namespace,
// protocol, address and port.
type receivers struct {
	mu        sync.Mutex
	closers   []func()
	open      map[string]bool
	plcs      map[string]*ModbusServer
	uas       map[string]*uaServer
	observers map[string]*observer
}

func newReceivers() *receivers {
	return &receivers{open: map[string]bool{}, plcs: map[string]*ModbusServer{}, uas: map[string]*uaServer{}, observers: map[string]*observer{}}
}

// uaServer returns the fake OPC UA server that answers a case, if any.
func (r *receivers) uaServer(c Case) *uaServer {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.uas[receiverKey(c)]
}

func receiverKey(c Case) string {
	return fmt.Sprintf("%s|%s|%s", c.Dst.NS, c.Proto, netip.AddrPortFrom(c.DstAddr, c.listenPort()))
}

// plc returns the fake PLC that answers a case, if any.
func (r *receivers) plc(c Case) *ModbusServer {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.plcs[receiverKey(c)]
}

func (r *receivers) close() {
	for _, c := range r.closers {
		c()
	}
}

func (r *receivers) prepare(c Case) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if c.Spoofed {
		return r.observe(c)
	}
	if c.Proto != zone.TCP && c.Proto != zone.UDP {
		return nil // the kernel answers echo requests
	}
	key := receiverKey(c)
	if r.open[key] {
		return nil
	}
	r.open[key] = true
	addr := netip.AddrPortFrom(c.DstAddr, c.listenPort()).String()
	if c.Proto == zone.TCP {
		ln, err := Listen(c.Dst.NS, "tcp", addr)
		if err != nil {
			return err
		}
		r.closers = append(r.closers, func() { ln.Close() })
		if c.Inspect == opcuarules.Name {
			ua := &uaServer{seen: map[string]int{}, ln: ln}
			r.uas[key] = ua
			go ua.serve()
			return nil
		}
		if c.Inspected {
			plc := NewModbusServer()
			r.plcs[key] = plc
			r.closers = append(r.closers, func() { plc.Close() })
			go func() { _ = plc.Serve(ln) }()
			return nil
		}
		go func() {
			for {
				conn, err := ln.Accept()
				if err != nil {
					return
				}
				conn.Close()
			}
		}()
		return nil
	}
	pc, err := ListenPacket(c.Dst.NS, "udp", addr)
	if err != nil {
		return err
	}
	r.closers = append(r.closers, func() { pc.Close() })
	go func() {
		buf := make([]byte, 1500)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			_, _ = pc.WriteTo(buf[:n], from)
		}
	}()
	return nil
}

// observer watches a namespace with a raw socket for packets of one
// protocol, to see spoofed packets that can never complete a handshake.
type observer struct {
	mu   sync.Mutex
	seen map[string]chan struct{}
}

func (o *observer) wait(key string) chan struct{} {
	o.mu.Lock()
	defer o.mu.Unlock()
	ch, ok := o.seen[key]
	if !ok {
		ch = make(chan struct{})
		o.seen[key] = ch
	}
	return ch
}

func (o *observer) saw(key string) {
	ch := o.wait(key)
	o.mu.Lock()
	defer o.mu.Unlock()
	select {
	case <-ch:
	default:
		close(ch)
	}
}

func observerKey(src netip.Addr, port uint16) string { return fmt.Sprintf("%s|%d", src, port) }

func (r *receivers) observe(c Case) error {
	network := map[[2]string]string{
		{"4", "tcp"}: "ip4:tcp", {"4", "udp"}: "ip4:udp",
		{"6", "tcp"}: "ip6:tcp", {"6", "udp"}: "ip6:udp",
	}[[2]string{strconv.Itoa(c.Family()), string(c.Proto)}]
	key := c.Dst.NS + "|" + network
	if _, ok := r.observers[key]; ok {
		return nil
	}
	var pc net.PacketConn
	err := Do(c.Dst.NS, func() (err error) {
		pc, err = net.ListenPacket(network, "")
		return err
	})
	if err != nil {
		return err
	}
	o := &observer{seen: map[string]chan struct{}{}}
	r.observers[key] = o
	r.closers = append(r.closers, func() { pc.Close() })
	go func() {
		buf := make([]byte, 65536)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			if n < 4 {
				continue
			}
			src, ok := netip.AddrFromSlice(from.(*net.IPAddr).IP)
			if !ok {
				continue
			}
			// Raw IPv4 sockets in Go hand over the payload after the IP
			// header, as IPv6 ones do: the transport header comes first.
			o.saw(observerKey(src.Unmap(), binary.BigEndian.Uint16(buf[2:4])))
		}
	}()
	return nil
}

// spoofed sends from a forged source address and reports whether the
// packet reached the destination.
func (r *receivers) spoofed(ctx context.Context, c Case, timeout time.Duration) (bool, error) {
	network := "ip4:" + string(c.Proto)
	if c.Family() == 6 {
		network = "ip6:" + string(c.Proto)
	}
	r.mu.Lock()
	o := r.observers[c.Dst.NS+"|"+network]
	r.mu.Unlock()
	if o == nil {
		return false, errors.New("no observer for spoofed probe")
	}
	arrived := o.wait(observerKey(c.SrcAddr, c.Port))
	if err := sendForged(c); err != nil {
		return false, err
	}
	select {
	case <-arrived:
		return true, nil
	case <-time.After(timeout):
		return false, nil
	case <-ctx.Done():
		return false, ctx.Err()
	}
}

// sendForged sends one tcp SYN or udp datagram with a source address the
// host does not own (IP_FREEBIND plus IP_TRANSPARENT, root only).
func sendForged(c Case) error {
	return Do(c.Src.NS, func() error {
		d := net.Dialer{Timeout: 200 * time.Millisecond, Control: transparent,
			LocalAddr: localAddr(c.Proto, netip.AddrPortFrom(c.SrcAddr, 0))}
		conn, err := d.Dial(string(c.Proto), netip.AddrPortFrom(c.DstAddr, c.Port).String())
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				return nil // the SYN left; nobody could answer it
			}
			return fmt.Errorf("send forged packet from %s: %w", c.SrcAddr, err)
		}
		defer conn.Close()
		_, err = conn.Write([]byte("zonelab-spoof"))
		return err
	})
}

func localAddr(proto zone.Proto, ap netip.AddrPort) net.Addr {
	if proto == zone.UDP {
		return net.UDPAddrFromAddrPort(ap)
	}
	return net.TCPAddrFromAddrPort(ap)
}
