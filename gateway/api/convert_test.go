package api

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zonegate/zonegate/gateway/zone"
)

// TestModelTypesOnTheWire: the model's versions and pending change keep
// the JSON keys of the API.
func TestModelTypesOnTheWire(t *testing.T) {
	when := time.Date(2026, 3, 1, 9, 30, 0, 0, time.UTC)
	vs := ModelVersionsOf([]zone.ModelVersion{{Number: 3, Digest: "sha256:ab", User: "erin", Time: when, Comment: "why", State: zone.VersionPending}})
	b, err := json.Marshal(vs)
	require.NoError(t, err)
	assert.JSONEq(t, `[{"version":3,"digest":"sha256:ab","user":"erin","time":"2026-03-01T09:30:00Z","comment":"why","state":"pending"}]`, string(b))
	assert.Nil(t, ModelVersionsOf(nil), "no history is JSON null, as before")

	assert.Nil(t, PendingOf(nil), "no change waits")
	b, err = json.Marshal(PendingOf(&zone.Pending{Version: 3, Previous: 2, Deadline: when, User: "erin"}))
	require.NoError(t, err)
	assert.JSONEq(t, `{"version":3,"previous":2,"deadline":"2026-03-01T09:30:00Z","user":"erin"}`, string(b))
}
