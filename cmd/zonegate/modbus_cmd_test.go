package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// floodModel's conduit allows reads of holding registers 0-9 only.
const floodModel = `version: 1
gateway: {name: flood-gw, management: {zones: [hmi]}}
zones:
  - {name: hmi, importance: medium, interfaces: [eth0], networks: [198.18.200.0/24]}
  - {name: plc, importance: high, interfaces: [eth1], networks: [198.18.201.0/24]}
conduits:
  - name: flood
    from: hmi
    to: plc
    services: [tcp/502]
    inspect: modbus
    modbus:
      units: [1]
      allow:
        - read: holding_registers
          addresses: 0-9
`

// syncBuffer is a log destination written from several goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestModbusProxyLogIsAggregated: `zonegate modbus-proxy` logs its events
// through the event pipeline: a flood of 20,000 denied requests and 200
// connections sending garbage gives a handful of lines (the first event
// of each source and reason at once, then one line per key with the
// count), not a line per event, and the counts add up to every event.
func TestModbusProxyLogIsAggregated(t *testing.T) {
	model := filepath.Join(t.TempDir(), "model.yaml")
	require.NoError(t, os.WriteFile(model, []byte(floodModel), 0o600))
	var logs syncBuffer
	enc := zap.NewProductionEncoderConfig()
	log := zap.New(zapcore.NewCore(zapcore.NewJSONEncoder(enc), zapcore.AddSync(&logs), zapcore.InfoLevel))
	ctx, cancel := context.WithCancel(t.Context())
	addr := make(chan net.Addr, 1)
	done := make(chan error, 1)
	go func() {
		done <- explicitProxy{listen: "127.0.0.1:0", upstream: "127.0.0.1:9", model: model, conduit: "flood",
			responseTimeout: time.Second, ready: func(a net.Addr) { addr <- a }}.run(ctx, log, io.Discard)
	}()
	target := (<-addr).String()

	const denied, garbage = 20000, 200
	c, err := net.Dial("tcp", target)
	require.NoError(t, err)
	defer c.Close()
	go func() {
		var batch []byte
		for i := range denied {
			b := make([]byte, 12)
			binary.BigEndian.PutUint16(b[0:], uint16(i))
			binary.BigEndian.PutUint16(b[4:], 6)
			b[6], b[7] = 1, 6 // FC 6 to register 50: not allowed
			binary.BigEndian.PutUint16(b[8:], 50)
			batch = append(batch, b...)
		}
		c.Write(batch)
	}()
	r := bufio.NewReader(c)
	resp := make([]byte, 9)
	for range denied {
		c.SetReadDeadline(time.Now().Add(20 * time.Second))
		_, err := io.ReadFull(r, resp)
		require.NoError(t, err)
		require.Equal(t, byte(0x86), resp[7], "exception to FC 6")
	}
	for range garbage {
		g, err := net.Dial("tcp", target)
		require.NoError(t, err)
		g.Write([]byte("GET / HTTP/1.1\r\n\r\n"))
		g.SetReadDeadline(time.Now().Add(20 * time.Second))
		_, err = g.Read(make([]byte, 1))
		assert.Error(t, err, "the proxy ends a connection that speaks no Modbus")
		g.Close()
	}
	cancel()
	require.NoError(t, <-done)

	lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
	t.Logf("%d events, %d log lines:\n%s", denied+garbage, len(lines), logs.String())
	assert.Less(t, len(lines), 30, "aggregated, not a line per event")
	counts := map[string]uint64{}
	for _, l := range lines {
		var rec struct {
			Msg   string `json:"msg"`
			Count uint64 `json:"count"`
		}
		require.NoError(t, json.Unmarshal([]byte(l), &rec), l)
		counts[rec.Msg] += rec.Count
	}
	assert.Equal(t, uint64(denied), counts["modbus denied"], "every denial counted")
	assert.Equal(t, uint64(garbage), counts["modbus malformed_frame"], "every malformed frame counted")
}
