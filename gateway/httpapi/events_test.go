package httpapi

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestEventsEndpoint(t *testing.T) {
	h := newHarness(t)
	code, body := h.do("GET", "/v1/events?since=0&wait=5s", "tok-viewer", "")
	assert.Equal(t, 200, code, "%s", body)
	assert.Contains(t, string(body), `"kind":"dropped-flow"`)
	assert.Contains(t, string(body), `"ports":"23"`)
	assert.Equal(t, []string{"events"}, h.b.takeCalls())

	code, body = h.do("GET", "/v1/events?since=2", "tok-viewer", "")
	assert.Equal(t, 200, code)
	assert.Contains(t, string(body), `"events":[]`, "no events is an empty list, not null")
	h.b.takeCalls()

	for _, q := range []string{"since=x", "wait=soon", "wait=-1s"} {
		code, body = h.do("GET", "/v1/events?"+q, "tok-viewer", "")
		assert.Equal(t, 400, code, "%s: %s", q, body)
	}
	assert.Empty(t, h.b.takeCalls())

	code, _ = h.do("GET", "/v1/events", "", "")
	assert.Equal(t, 401, code)
}
