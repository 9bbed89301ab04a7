package changes_test

import (
	"errors"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zonegate/zonegate/firewall"
	"github.com/zonegate/zonegate/gateway/audit"
	"github.com/zonegate/zonegate/gateway/changes"
)

// TestStatus: what a front end shows: the running model, a change waiting
// for confirmation (a copy, not the transactions' own), island mode and
// why, the drift watcher; the running model's text as pushed.
func TestStatus(t *testing.T) {
	h := newHarness(t)
	st := h.tx.Status()
	assert.Equal(t, changes.Status{Island: true, IslandReason: "no zone model: give one with --model or push one with `zonegate push`"}, st)
	assert.Nil(t, h.tx.Running())
	_, err := h.tx.RunningModel()
	assert.ErrorIs(t, err, changes.ErrNoModel)

	h.push(hModelBase, 0)
	res := h.push(hModelOpen, 2*time.Minute)
	st = h.tx.Status()
	assert.Equal(t, "unit-gw", st.Gateway)
	assert.Equal(t, 2, st.Version)
	assert.Equal(t, res.Digest, st.Digest)
	assert.False(t, st.Island)
	require.NotNil(t, st.Pending)
	assert.Equal(t, 1, st.Pending.Previous)
	assert.Equal(t, hStart.Add(2*time.Minute), st.Pending.Deadline)
	assert.Equal(t, "erin", st.Pending.User)
	st.Pending.Version = 99
	assert.Equal(t, 2, h.tx.Status().Pending.Version, "the status is a copy")
	assert.Equal(t, res.Digest, h.tx.Running().Digest())
	m, err := h.tx.RunningModel()
	require.NoError(t, err)
	assert.Equal(t, changes.RunningModel{Version: 2, Digest: res.Digest, Text: []byte(hModelOpen)}, m)

	require.NoError(t, h.tx.SetIsland(h.ctx, erin, true))
	st = h.tx.Status()
	assert.True(t, st.Island)
	assert.Equal(t, "turned on with `zonegate island on`", st.IslandReason)

	require.NoError(t, os.Remove(h.stateDir+"/models/v000002.yaml"))
	_, err = h.tx.RunningModel()
	assert.ErrorContains(t, err, "read model version 2 from the state directory")

	h.k.SetCounters([]firewall.CounterValue{{Name: "conduit_ops-to-cell", Packets: 3, Bytes: 180}})
	cs, err := h.tx.Counters()
	require.NoError(t, err)
	assert.Equal(t, []changes.Counter{{Name: "conduit_ops-to-cell", Packets: 3, Bytes: 180}}, cs)
}

// TestInstallersFollowTheModel: every installer prepares before the
// ruleset changes and installs after it, in island mode too; a model an
// installer refuses changes nothing.
func TestInstallersFollowTheModel(t *testing.T) {
	h := newHarness(t)
	h.push(hModelBase, 0)
	require.NoError(t, h.tx.SetIsland(h.ctx, erin, true))
	assert.Equal(t, []string{"unit-gw island=false", "unit-gw island=true"}, h.installed.installs)

	h.installed.refuse = errors.New("conduit ops-to-plc: `inspect: modbus` has no inspector in this build of zonegate")
	h.installed.refuseDigest = h.model(hModelModbus).Digest()
	gen, err := h.k.Generation()
	require.NoError(t, err)
	_, err = h.tx.Push(h.ctx, erin, []byte(hModelModbus), "", 0)
	assert.ErrorContains(t, err, "has no inspector")
	assert.Contains(t, err.Error(), "the previous one is back in place")
	assert.True(t, h.holds(hModelBase, true), "the previous model runs on")
	assert.Equal(t, 1, h.current())
	assert.Equal(t, "1:running 2:rejected", h.states())
	after, err := h.k.Generation()
	require.NoError(t, err)
	assert.Equal(t, gen, after, "the kernel's ruleset never changed")
}

// TestActorPeer: a front end that knows where a request came from (the
// console's client address) has it recorded with the change; the API
// names the account only.
func TestActorPeer(t *testing.T) {
	h := newHarness(t)
	ada := changes.Actor{User: "ada", Peer: "198.18.60.10:51234"}
	_, err := h.tx.Push(h.ctx, ada, []byte(hModelBase), "from the console", time.Minute)
	require.NoError(t, err)
	_, err = h.tx.Confirm(h.ctx, ada)
	require.NoError(t, err)
	require.NoError(t, h.tx.SetIsland(h.ctx, ada, true))
	for _, a := range []audit.Action{audit.ActionModelApplied, audit.ActionModelConfirmed, audit.ActionIslandMode} {
		e := h.entries(a)
		require.Len(t, e, 1, a)
		assert.Equal(t, "ada", e[0].Actor, a)
		assert.Equal(t, "198.18.60.10:51234", e[0].Details[audit.DetailRemote], a)
	}
	h.push(hModelOpen, 0)
	applied := h.entries(audit.ActionModelApplied)
	assert.NotContains(t, applied[len(applied)-1].Details, audit.DetailRemote, "no peer, no remote detail")
}

// TestLastKnown: the model the fail-close ruleset is made of: the running
// version, else the model file, else none.
func TestLastKnown(t *testing.T) {
	h := newHarness(t)
	assert.Nil(t, h.tx.LastKnown())
	h.push(hModelOpen, 0)
	assert.Equal(t, h.model(hModelOpen).Digest(), h.tx.LastKnown().Digest())

	h = newHarness(t, withModelFile(hModelModbus))
	require.NoError(t, os.Remove(h.stateDir+"/models/v000001.yaml"))
	assert.Equal(t, h.model(hModelModbus).Digest(), h.tx.LastKnown().Digest(), "the running version is lost: the model file")
}
