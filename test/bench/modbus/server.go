package main

import (
	"encoding/binary"
	"errors"
	"net"
	"sync"
)

// fastServer is a minimal Modbus/TCP server written for speed: it answers
// FC 3 (read holding registers) with register i holding i, and any other
// function with exception 01. One read and one write system call per
// request when the client does not pipeline; no allocation per request.
type fastServer struct {
	ln    net.Listener
	wg    sync.WaitGroup
	mu    sync.Mutex
	conns map[net.Conn]struct{}
}

// startFastServer listens on addr and serves until close.
func startFastServer(addr string) (*fastServer, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	return serveFast(ln), nil
}

// serveFast serves on ln (for example a listener in a namespace) until
// close.
func serveFast(ln net.Listener) *fastServer {
	s := &fastServer{ln: ln, conns: map[net.Conn]struct{}{}}
	s.wg.Add(1)
	go s.accept()
	return s
}

func (s *fastServer) addr() string { return s.ln.Addr().String() }

func (s *fastServer) accept() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		s.conns[c] = struct{}{}
		s.mu.Unlock()
		s.wg.Add(1)
		go s.serve(c)
	}
}

// close stops the server and closes every connection.
func (s *fastServer) close() {
	s.ln.Close()
	s.mu.Lock()
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
}

var errBadFrame = errors.New("bad frame")

func (s *fastServer) serve(c net.Conn) {
	defer s.wg.Done()
	defer func() {
		s.mu.Lock()
		delete(s.conns, c)
		s.mu.Unlock()
		c.Close()
	}()
	in := make([]byte, 4096)
	out := make([]byte, 0, 4096)
	have := 0
	for {
		n, err := c.Read(in[have:])
		if err != nil {
			return
		}
		have += n
		off := 0
		for have-off >= 7 {
			l := int(binary.BigEndian.Uint16(in[off+4:]))
			if l < 2 || l > 254 {
				return
			}
			if have-off < 6+l {
				break
			}
			var err error
			out, err = answer(out, in[off:off+6+l])
			if err != nil {
				return
			}
			off += 6 + l
		}
		have = copy(in, in[off:have])
		if len(out) > 0 {
			if _, err := c.Write(out); err != nil {
				return
			}
			out = out[:0]
		}
	}
}

// answer appends the response to one request frame.
func answer(out, req []byte) ([]byte, error) {
	tid, unit, fc := req[0:2], req[6], req[7]
	if fc != 3 || len(req) != 12 {
		return append(out, tid[0], tid[1], 0, 0, 0, 3, unit, fc|0x80, 1), nil
	}
	addr := binary.BigEndian.Uint16(req[8:])
	qty := int(binary.BigEndian.Uint16(req[10:]))
	if qty < 1 || qty > 125 {
		return out, errBadFrame
	}
	out = append(out, tid[0], tid[1], 0, 0, 0, byte(3+2*qty), unit, 3, byte(2*qty))
	for i := 0; i < qty; i++ {
		v := addr + uint16(i)
		out = append(out, byte(v>>8), byte(v))
	}
	return out, nil
}
