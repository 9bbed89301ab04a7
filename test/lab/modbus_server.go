package lab

import (
	"encoding/binary"
	"errors"
	"io"
	"net"
	"sync"
	"time"
)

// Modbus function codes the fake PLC answers.
const (
	fcReadCoils              = 1
	fcReadDiscreteInputs     = 2
	fcReadHoldingRegisters   = 3
	fcReadInputRegisters     = 4
	fcWriteSingleCoil        = 5
	fcWriteSingleRegister    = 6
	fcWriteMultipleCoils     = 15
	fcWriteMultipleRegisters = 16
)

// Modbus exception codes.
const (
	exIllegalFunction    = 0x01
	exIllegalDataAddress = 0x02
	exIllegalDataValue   = 0x03
)

// ModbusRequest is one request a ModbusServer received.
type ModbusRequest struct {
	Unit      uint8
	Function  uint8
	Address   uint16
	Quantity  uint16
	Values    []uint16 // written values (coils as 0 or 1)
	Exception uint8    // the exception the server answered with; 0 for a normal response
}

// Write reports whether the request is a write (FC 5, 6, 15, 16).
func (r ModbusRequest) Write() bool {
	switch r.Function {
	case fcWriteSingleCoil, fcWriteSingleRegister, fcWriteMultipleCoils, fcWriteMultipleRegisters:
		return true
	}
	return false
}

// ModbusServer is a minimal Modbus/TCP device, a fake PLC for labs and
// tests. It answers reads of the four tables (FC 1-4) and writes of coils
// and holding registers (FC 5, 6, 15, 16) for every unit identifier,
// answers any other function with exception 1 (illegal function), and
// records every request it receives, so that a test can assert that a
// request denied by the gateway never reached the device.
//
// Before any write, holding and input register N hold N, and coil and
// discrete input N is on when N is odd.
type ModbusServer struct {
	mu       sync.Mutex
	coils    map[uint16]bool
	holding  map[uint16]uint16
	requests []ModbusRequest
	lns      []net.Listener
	conns    map[net.Conn]struct{}
	closed   bool
}

// NewModbusServer returns a fake PLC; call Serve to run it.
func NewModbusServer() *ModbusServer {
	return &ModbusServer{coils: map[uint16]bool{}, holding: map[uint16]uint16{}, conns: map[net.Conn]struct{}{}}
}

// Serve answers the connections ln accepts until ln or the server is
// closed. It returns nil after Close.
func (s *ModbusServer) Serve(ln net.Listener) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		ln.Close()
		return nil
	}
	s.lns = append(s.lns, ln)
	s.mu.Unlock()
	for {
		c, err := ln.Accept()
		if err != nil {
			s.mu.Lock()
			closed := s.closed
			s.mu.Unlock()
			if closed || errors.Is(err, net.ErrClosed) {
				return nil
			}
			return err
		}
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			c.Close()
			return nil
		}
		s.conns[c] = struct{}{}
		s.mu.Unlock()
		go s.serveConn(c)
	}
}

// Close closes the listeners and the open connections.
func (s *ModbusServer) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	for _, ln := range s.lns {
		ln.Close()
	}
	for c := range s.conns {
		c.Close()
	}
	return nil
}

// Requests returns a copy of the requests received so far.
func (s *ModbusServer) Requests() []ModbusRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]ModbusRequest, len(s.requests))
	copy(out, s.requests)
	return out
}

// Count returns how many received requests match.
func (s *ModbusServer) Count(match func(ModbusRequest) bool) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, r := range s.requests {
		if match(r) {
			n++
		}
	}
	return n
}

// Writes returns how many write requests the server received.
func (s *ModbusServer) Writes() int { return s.Count(ModbusRequest.Write) }

// HoldingRegister returns the current value of a holding register.
func (s *ModbusServer) HoldingRegister(addr uint16) uint16 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.holdingLocked(addr)
}

func (s *ModbusServer) holdingLocked(addr uint16) uint16 {
	if v, ok := s.holding[addr]; ok {
		return v
	}
	return addr
}

func (s *ModbusServer) coilLocked(addr uint16) bool {
	if v, ok := s.coils[addr]; ok {
		return v
	}
	return addr%2 == 1
}

func (s *ModbusServer) serveConn(c net.Conn) {
	defer func() {
		s.mu.Lock()
		delete(s.conns, c)
		s.mu.Unlock()
		c.Close()
	}()
	hdr := make([]byte, 7)
	for {
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Minute))
		if _, err := io.ReadFull(c, hdr); err != nil {
			return
		}
		length := binary.BigEndian.Uint16(hdr[4:6])
		if binary.BigEndian.Uint16(hdr[2:4]) != 0 || length < 2 || length > 254 {
			return // not Modbus/TCP: drop the connection as a device would
		}
		pdu := make([]byte, length-1)
		if _, err := io.ReadFull(c, pdu); err != nil {
			return
		}
		resp := s.handle(hdr[6], pdu)
		out := make([]byte, 7, 7+len(resp))
		copy(out, hdr[:4])
		binary.BigEndian.PutUint16(out[4:6], uint16(len(resp)+1))
		out[6] = hdr[6]
		out = append(out, resp...)
		if _, err := c.Write(out); err != nil {
			return
		}
	}
}

// handle executes one request PDU and returns the response PDU.
func (s *ModbusServer) handle(unit uint8, pdu []byte) []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	req := ModbusRequest{Unit: unit, Function: pdu[0]}
	resp, ex := s.execLocked(&req, pdu)
	req.Exception = ex
	s.requests = append(s.requests, req)
	if ex != 0 {
		return []byte{pdu[0] | 0x80, ex}
	}
	return resp
}

func (s *ModbusServer) execLocked(req *ModbusRequest, pdu []byte) ([]byte, uint8) {
	fc := pdu[0]
	switch fc {
	case fcReadCoils, fcReadDiscreteInputs, fcReadHoldingRegisters, fcReadInputRegisters,
		fcWriteSingleCoil, fcWriteSingleRegister, fcWriteMultipleCoils, fcWriteMultipleRegisters:
	default:
		return nil, exIllegalFunction
	}
	if len(pdu) < 5 {
		return nil, exIllegalDataValue
	}
	addr := binary.BigEndian.Uint16(pdu[1:3])
	qty := binary.BigEndian.Uint16(pdu[3:5])
	req.Address, req.Quantity = addr, qty
	span := func(max uint16) uint8 {
		if qty == 0 || qty > max {
			return exIllegalDataValue
		}
		if int(addr)+int(qty) > 65536 {
			return exIllegalDataAddress
		}
		return 0
	}
	switch fc {
	case fcReadCoils, fcReadDiscreteInputs:
		if ex := span(2000); ex != 0 {
			return nil, ex
		}
		bits := make([]byte, (qty+7)/8)
		for i := uint16(0); i < qty; i++ {
			a := addr + i
			on := a%2 == 1
			if fc == fcReadCoils {
				on = s.coilLocked(a)
			}
			if on {
				bits[i/8] |= 1 << (i % 8)
			}
		}
		return append([]byte{fc, byte(len(bits))}, bits...), 0
	case fcReadHoldingRegisters, fcReadInputRegisters:
		if ex := span(125); ex != 0 {
			return nil, ex
		}
		out := []byte{fc, byte(2 * qty)}
		for i := uint16(0); i < qty; i++ {
			v := addr + i
			if fc == fcReadHoldingRegisters {
				v = s.holdingLocked(addr + i)
			}
			out = binary.BigEndian.AppendUint16(out, v)
		}
		return out, 0
	case fcWriteSingleCoil:
		req.Quantity = 1
		switch qty {
		case 0xFF00:
			s.coils[addr] = true
			req.Values = []uint16{1}
		case 0x0000:
			s.coils[addr] = false
			req.Values = []uint16{0}
		default:
			return nil, exIllegalDataValue
		}
		return pdu[:5], 0
	case fcWriteSingleRegister:
		req.Quantity = 1
		req.Values = []uint16{qty}
		s.holding[addr] = qty
		return pdu[:5], 0
	case fcWriteMultipleCoils:
		if ex := span(1968); ex != 0 {
			return nil, ex
		}
		if len(pdu) < 6 || int(pdu[5]) != int(qty+7)/8 || len(pdu) < 6+int(pdu[5]) {
			return nil, exIllegalDataValue
		}
		for i := uint16(0); i < qty; i++ {
			on := pdu[6+i/8]&(1<<(i%8)) != 0
			s.coils[addr+i] = on
			v := uint16(0)
			if on {
				v = 1
			}
			req.Values = append(req.Values, v)
		}
		return pdu[:5], 0
	case fcWriteMultipleRegisters:
		if ex := span(123); ex != 0 {
			return nil, ex
		}
		if len(pdu) < 6 || int(pdu[5]) != 2*int(qty) || len(pdu) < 6+int(pdu[5]) {
			return nil, exIllegalDataValue
		}
		for i := uint16(0); i < qty; i++ {
			v := binary.BigEndian.Uint16(pdu[6+2*i:])
			s.holding[addr+i] = v
			req.Values = append(req.Values, v)
		}
		return pdu[:5], 0
	}
	return nil, exIllegalFunction
}
