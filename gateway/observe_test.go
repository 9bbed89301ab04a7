package gateway

import (
	"context"
	"errors"
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/zonegate/zonegate/firewall/firewalltest"
	"github.com/zonegate/zonegate/gateway/events"
	"github.com/zonegate/zonegate/gateway/settings"
	"github.com/zonegate/zonegate/protocols/inspect"
)

// TestNoNflogKeepsRunning: without NFLOG the daemon says loudly that
// dropped packets are not reported, and the pipeline still runs.
func TestNoNflogKeepsRunning(t *testing.T) {
	saved := listenNflog
	t.Cleanup(func() { listenNflog = saved })
	listenNflog = func(context.Context, *events.Pipeline, events.NflogConfig) (*events.Nflog, error) {
		return nil, errors.New("open NFLOG (netlink netfilter socket): operation not permitted")
	}
	core, logs := observer.New(zap.InfoLevel)
	d := New(Config{Settings: settings.Default(), Logger: zap.New(core), Kernel: firewalltest.NewKernel()})
	stop := d.startEvents(t.Context())
	defer stop()
	require.NotNil(t, d.pipeline)
	assert.Nil(t, d.nflog)
	msgs := logs.FilterLevelExact(zap.ErrorLevel).All()
	require.Len(t, msgs, 1)
	assert.Contains(t, msgs[0].Message, "DROPPED PACKETS ARE NOT REPORTED")
	assert.Contains(t, msgs[0].Message, "nfnetlink_log")
	assert.EqualValues(t, 1, msgs[0].ContextMap()["group"])

	// The proxies' events still flow.
	feed := inspect.NewFeed(0, 1, nil)
	feed.Push(&inspect.Event{Protocol: "modbus", Kind: inspect.Denied, Time: time.Now(),
		Source: netip.MustParseAddrPort("198.18.0.10:1"), Conduit: "c", Reason: "function_not_allowed"})
	feed.Close()
	d.pipeline.Follow(feed)
	waitFor(t, func() bool { return d.pipeline.Stats().Events["denied"] == 1 })
	d.pipeline.Flush()
	got, err := apiBackend{d}.Events(t.Context(), 0, 0)
	require.NoError(t, err)
	require.Len(t, got.Events, 1)
	assert.Equal(t, "denied", got.Events[0].Kind)
	assert.Equal(t, "10s", got.Interval)
}

// waitFor polls cond until it holds (bounded only against a hang).
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("condition not met")
		}
	}
}
