package proxy

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestEngineSharesDeviceConnections: with renumbered keys, client
// connections to one device share one device connection, and clients that
// come and go leave it open; with keys that must reach the device
// unchanged (KeySpace 0) or a conversation bound to its device connection,
// each client connection has its own.
func TestEngineSharesDeviceConnections(t *testing.T) {
	for _, c := range []struct {
		name  string
		codec toyCodec
		want  int64
	}{
		{"renumbered keys", toyCodec{keys: 256}, 1},
		{"keys unchanged", toyCodec{}, 4},
		{"bound device", toyCodec{keys: 256, bound: true}, 4},
	} {
		t.Run(c.name, func(t *testing.T) {
			env := newToy(t, c.codec, echoDevice, nil)
			a, b := env.hello(), env.hello()
			for i := range 2 {
				k := string(rune('0' + i))
				assert.Equal(t, "k"+k+"a", a.roundTrip("K"+k+"a"))
				assert.Equal(t, "k"+k+"b", b.roundTrip("K"+k+"b"))
			}
			for range 2 {
				x := env.hello()
				assert.Equal(t, "k\x05x", x.roundTrip("K\x05x"))
				x.c.Close()
			}
			assert.Equal(t, c.want, env.dev.conns.Load())
		})
	}
}
