package events

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zonegate/zonegate/gateway/audit"
	"github.com/zonegate/zonegate/protocols/inspect"
)

// TestOpenedChannelIsAuditedOneByOne: an inspect.Opened event from a
// proxy (an OPC UA secure channel) goes to the sinks one by one with its
// details, and the audit log records it as channel-opened.
func TestOpenedChannelIsAuditedOneByOne(t *testing.T) {
	l, err := audit.Open(audit.Options{Dir: t.TempDir(), Gateway: "gw", BootID: "b", MaxBytes: 4 << 20})
	require.NoError(t, err)
	defer l.Close()
	sink := &batches{}
	p := New(Config{Sinks: []Sink{sink, AuditSink{Log: l}}})
	feed := inspect.NewFeed(1, 8, func(ev *inspect.Event) map[string]string {
		return map[string]string{"subject": "CN=mes-1", "fingerprint": "sha256:00", "security_policy": "Basic256Sha256"}
	})
	q := feed.Queue(0)
	ev := q.Reserve(1)
	*ev = inspect.Event{Protocol: "opcua", Kind: inspect.Opened, Time: time.Now(), Source: netip.MustParseAddrPort("198.18.20.10:50000"),
		Destination: netip.MustParseAddrPort("198.18.30.10:4840"), Conduit: "mes-to-scada"}
	q.Commit()
	p.Follow(feed)
	feed.Signal()
	feed.Close()
	p.settle()
	require.Len(t, sink.indiv, 1)
	assert.Equal(t, Opened, sink.indiv[0].Kind)
	require.NoError(t, l.Flush(context.Background()))
	var got []audit.Entry
	require.NoError(t, audit.Read(l.Dir(), audit.Filter{}, func(e audit.Entry) error { got = append(got, e); return nil }))
	var opened *audit.Entry
	for i := range got {
		if got[i].Action == audit.ActionChannelOpened {
			opened = &got[i]
		}
	}
	require.NotNil(t, opened, "%v", got)
	assert.Equal(t, "CN=mes-1", opened.Details["subject"])
	assert.Equal(t, "opcua", opened.Details[audit.DetailProtocol])
}
