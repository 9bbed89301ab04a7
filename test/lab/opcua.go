package lab

import (
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/zonegate/zonegate/gateway/zone"
	"github.com/zonegate/zonegate/protocols/opcua"
	"github.com/zonegate/zonegate/protocols/opcua/opcuarules"
)

// OPCUAOp is an OPC UA exchange a probe sends through a conduit with
// `inspect: opcua`.
type OPCUAOp struct {
	// Refused: after HEL and ACK, an OPN with a security policy no
	// conduit allows (…#Unknown): the gateway must answer ERR
	// Bad_SecurityPolicyRejected and the server must never see it.
	// Otherwise a HEL that the server must receive and answer with ACK.
	Refused bool
}

func (op OPCUAOp) String() string {
	if op.Refused {
		return "opcua OPN with an unknown security policy"
	}
	return "opcua HEL"
}

// opcuaCases are the OPC UA exchanges of a conduit with `inspect: opcua`:
// a HEL the server answers, and an OPN the gateway refuses.
func (l *Lab) opcuaCases(cd *zone.Conduit) []Case {
	if cd.Inspect != opcuarules.Name {
		return nil
	}
	port := firstTCPPort(cd, 4840)
	if port == 0 {
		return nil
	}
	var out []Case
	for _, fam := range []int{4, 6} {
		src, srcAddr, ok1 := l.pick(cd.From, cd.FromAssets, fam)
		dst, dstAddr, ok2 := l.pick(cd.To, cd.ToAssets, fam)
		if !ok1 || !ok2 {
			continue
		}
		for _, op := range []OPCUAOp{{}, {Refused: true}} {
			why := "conduit " + cd.Name + ": HEL answered by the server"
			if op.Refused {
				why = "conduit " + cd.Name + ": unknown security policy refused with ERR"
			}
			o := op
			out = append(out, Case{From: cd.From, To: cd.To, Src: src, Dst: dst, SrcAddr: srcAddr, DstAddr: dstAddr,
				Proto: zone.TCP, Port: port, Inspected: true, Inspect: cd.Inspect, OPCUA: &o, Expect: !op.Refused, Why: why})
		}
	}
	return out
}

// uaServer is a fake OPC UA server: it answers HEL with ACK and records
// the message types it receives.
type uaServer struct {
	mu   sync.Mutex
	seen map[string]int
	ln   net.Listener
}

func (s *uaServer) serve() {
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		go s.conn(c)
	}
}

func (s *uaServer) conn(c net.Conn) {
	defer c.Close()
	for {
		hdr := make([]byte, opcua.HeaderLen)
		if _, err := io.ReadFull(c, hdr); err != nil {
			return
		}
		size := binary.LittleEndian.Uint32(hdr[4:])
		if size < opcua.HeaderLen || size > 1<<20 {
			return
		}
		if _, err := io.ReadFull(c, make([]byte, size-opcua.HeaderLen)); err != nil {
			return
		}
		s.mu.Lock()
		s.seen[string(hdr[:3])]++
		s.mu.Unlock()
		if string(hdr[:3]) == "HEL" {
			_, _ = c.Write(uaHello("ACK", ""))
		}
	}
}

func (s *uaServer) count(typ string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.seen[typ]
}

// uaHello is a HEL (with url) or ACK with 64 KiB buffers.
func uaHello(typ, url string) []byte {
	b := []byte(typ + "F\x00\x00\x00\x00")
	for _, v := range []uint32{0, 65535, 65535, 0, 0} {
		b = binary.LittleEndian.AppendUint32(b, v)
	}
	if typ == "HEL" {
		b = binary.LittleEndian.AppendUint32(b, uint32(len(url)))
		b = append(b, url...)
	}
	binary.LittleEndian.PutUint32(b[4:], uint32(len(b)))
	return b
}

// uaUnknownOPN is an OPN with the security policy "…#Unknown".
func uaUnknownOPN() []byte {
	uri := opcua.PolicyURIPrefix + "Unknown"
	b := []byte("OPNF\x00\x00\x00\x00\x00\x00\x00\x00")
	b = binary.LittleEndian.AppendUint32(b, uint32(len(uri)))
	b = append(b, uri...)
	b = append(b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff)
	b = append(b, make([]byte, 64)...)
	binary.LittleEndian.PutUint32(b[4:], uint32(len(b)))
	return b
}

// readChunk reads one UA TCP chunk.
func readUAChunk(c net.Conn) ([]byte, error) {
	hdr := make([]byte, opcua.HeaderLen)
	if _, err := io.ReadFull(c, hdr); err != nil {
		return nil, err
	}
	size := binary.LittleEndian.Uint32(hdr[4:])
	if size < opcua.HeaderLen || size > 1<<20 {
		return nil, fmt.Errorf("chunk of %d bytes", size)
	}
	b := make([]byte, size)
	copy(b, hdr)
	_, err := io.ReadFull(c, b[opcua.HeaderLen:])
	return b, err
}

// runOPCUA sends an OPC UA case's exchange through the proxy and checks it.
func (l *Lab) runOPCUA(rx *receivers, r *Result, timeout time.Duration) {
	srv := rx.uaServer(r.Case)
	if srv == nil {
		r.Err = "no fake OPC UA server at the destination"
		return
	}
	dst := netip.AddrPortFrom(r.DstAddr, r.Port)
	c, err := Dial(r.Src.NS, "tcp", dst.String(), timeout)
	if err != nil {
		r.Detail = "no connection"
		return
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(2 * timeout))
	hels := srv.count("HEL")
	if _, err := c.Write(uaHello("HEL", "opc.tcp://"+dst.String())); err != nil {
		r.Detail = "HEL not sent"
		return
	}
	ack, err := readUAChunk(c)
	if err != nil || opcua.ParseType(ack) != opcua.MsgACK {
		r.Detail = "no ACK"
		return
	}
	if !r.OPCUA.Refused {
		r.Detail = "ACK"
		r.Got = srv.count("HEL") > hels
		if !r.Got {
			r.Deviation = "an ACK came back, but the server never received the HEL"
		}
		return
	}
	opns := srv.count("OPN")
	if _, err := c.Write(uaUnknownOPN()); err != nil {
		r.Detail = "OPN not sent"
		return
	}
	reply, err := readUAChunk(c)
	code, _, ok := opcua.ErrorInfo(reply)
	switch {
	case err != nil || !ok:
		r.Detail = "no ERR"
		r.Deviation = "the gateway did not answer the refused OPN with ERR"
	case code != opcua.BadSecurityPolicyRejected:
		r.Detail = fmt.Sprintf("ERR 0x%08X", uint32(code))
		r.Deviation = "ERR without Bad_SecurityPolicyRejected"
	default:
		r.Detail = "ERR Bad_SecurityPolicyRejected"
	}
	time.Sleep(50 * time.Millisecond)
	r.Got = srv.count("OPN") > opns
	if r.Got {
		r.Deviation = "the server received the refused OPN"
	}
}
