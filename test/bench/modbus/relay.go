package main

import (
	"fmt"
	"io"
	"net"
	"os"
	"time"
)

// relayEnv makes the benchmark binary run as a plain Go TCP relay
// ("LISTEN UPSTREAM") instead: two goroutines per connection copying bytes
// both ways, nothing inspected. Measured with --gorelay as path
// "go-relay", it separates what any Go proxy in its own process costs
// (runtime scheduling, netpoller, one goroutine per direction) from what
// zonegate's inspection and design add.
const relayEnv = "BENCH_MODBUS_RELAY"

// runRelay serves the relay until killed.
func runRelay(spec string) int {
	var listen, upstream string
	if _, err := fmt.Sscan(spec, &listen, &upstream); err != nil {
		fmt.Fprintf(os.Stderr, "relay: %s=%q: want \"LISTEN UPSTREAM\"\n", relayEnv, spec)
		return 2
	}
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		fmt.Fprintf(os.Stderr, "relay: %v\n", err)
		return 1
	}
	for {
		c, err := ln.Accept()
		if err != nil {
			return 1
		}
		go relayConn(c, upstream)
	}
}

func relayConn(c net.Conn, upstream string) {
	defer c.Close()
	u, err := net.Dial("tcp", upstream)
	if err != nil {
		return
	}
	defer u.Close()
	done := make(chan struct{})
	go func() {
		buf := make([]byte, 4096)
		_, _ = io.CopyBuffer(u, c, buf)
		u.(*net.TCPConn).CloseWrite()
		close(done)
	}()
	buf := make([]byte, 4096)
	_, _ = io.CopyBuffer(c, u, buf)
	<-done
}

// startGoRelay runs this binary as a relay on cpus in front of upstream.
func startGoRelay(cpus, upstream string) (*proc, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	cmd := command(cpus, self)
	cmd.Env = append(goEnv(), relayEnv+"="+addr+" "+upstream)
	return start("go-relay", addr, cmd, tcpReady(addr), 10*time.Second)
}
