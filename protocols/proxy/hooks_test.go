package proxy

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/zonegate/zonegate/protocols/inspect"
)

// dropOnY answers like echoDevice, but the read "RY" with a frame the toy
// session refuses ('x'), which makes the engine close the device
// connection.
func dropOnY(n int, body []byte, reply func(...[]byte)) {
	if string(body) == "RY" {
		reply([]byte{'x'})
		return
	}
	echoDevice(n, body, reply)
}

// TestBoundDevice: with Framing.BoundDevice the client connection closes
// when its device connection closes, after the answers already due; a
// codec without it keeps the client and dials the device again.
func TestBoundDevice(t *testing.T) {
	t.Run("bound", func(t *testing.T) {
		env := newToy(t, toyCodec{bound: true}, dropOnY, nil)
		c := env.hello()
		assert.Equal(t, byte('T'), c.roundTrip("RY")[0], "the waiting request is answered first")
		c.end()
		assert.EqualValues(t, 1, env.dev.conns.Load(), "never dialled again")
	})
	t.Run("not bound", func(t *testing.T) {
		env := newToy(t, toyCodec{}, dropOnY, nil)
		c := env.hello()
		assert.Equal(t, byte('T'), c.roundTrip("RY")[0])
		assert.Equal(t, "aR3", c.roundTrip("R3"), "the next request dials again")
		assert.EqualValues(t, 2, env.dev.conns.Load())
	})
}

// TestMalformedAndOpened: a verdict marked Malformed is reported as a
// malformed frame (after its Close answer), and one marked Opened as an
// Opened event, one per request, with the details Describe put in it.
func TestMalformedAndOpened(t *testing.T) {
	env := newToy(t, toyCodec{}, echoDevice, nil)
	c := env.hello()
	assert.Equal(t, "aOcert", c.roundTrip("Ocert"))
	assert.Equal(t, "aOcert", c.roundTrip("Ocert"))
	env.events.wait(t, inspect.Opened, "", 2)
	for _, ev := range env.events.all() {
		if ev.Kind == inspect.Opened {
			assert.Equal(t, map[string]string{"body": "Ocert"}, ev.Details)
		}
	}
	assert.Equal(t, "EX", c.roundTrip("X"))
	c.end()
	env.events.wait(t, inspect.Malformed, "toy_violation", 1)
	assert.Zero(t, env.events.count(inspect.Denied, "toy_violation"))
}
