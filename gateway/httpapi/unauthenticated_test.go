package httpapi

import (
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zonegate/zonegate/gateway/audit"
	"github.com/zonegate/zonegate/gateway/internal/clock"
)

var unauthStart = time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)

// unauthBackend hands the calls refused with 401 to an Unauthenticated.
type unauthBackend struct {
	*fakeBackend
	u *Unauthenticated
}

func (b unauthBackend) Unauthenticated(peer PeerCred, route, why string) { b.u.Note(peer, route, why) }

// recordSink keeps the records an Unauthenticated writes.
type recordSink struct {
	mu   sync.Mutex
	recs []audit.Record
}

func (s *recordSink) write(r audit.Record) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.recs = append(s.recs, r)
}

// summary is "object count uid reason" of each record.
func (s *recordSink) summary(t *testing.T) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, r := range s.recs {
		assert.Equal(t, audit.ActionUnauthenticated, r.Action)
		assert.Equal(t, audit.CategoryAccount, r.Category)
		assert.Equal(t, audit.ResultDenied, r.Result)
		out = append(out, fmt.Sprintf("%s %s %s %s", r.Object, r.Details[audit.DetailCount], r.Details[detailUID], r.Details[audit.DetailReason]))
	}
	return out
}

func TestUnauthenticatedCallsAreAggregated(t *testing.T) {
	clk := clock.NewFake(unauthStart)
	sink := &recordSink{}
	u := NewUnauthenticated(clk, UnauthInterval, sink.write)
	h := newHarness(t)
	h.h = Handler(unauthBackend{h.b, u}, h.acc)
	for i := 0; i < 50; i++ {
		code, _ := h.do("GET", "/v1/status", "", "")
		require.Equal(t, http.StatusUnauthorized, code)
	}
	clk.Advance(10 * time.Second)
	for i := 0; i < 10; i++ {
		code, _ := h.do("GET", "/v1/status", "not-a-token", "")
		require.Equal(t, http.StatusUnauthorized, code)
	}
	for _, name := range []string{"a", "b", "c"} {
		code, _ := h.do("POST", "/v1/users/"+name+"/disable", "", "")
		require.Equal(t, http.StatusUnauthorized, code)
	}
	assert.Empty(t, sink.summary(t), "nothing is written before the interval ends")
	clk.Advance(UnauthInterval - 10*time.Second - time.Nanosecond)
	assert.Empty(t, sink.summary(t), "nothing is written before the interval ends")
	clk.Advance(time.Nanosecond)
	assert.Equal(t, []string{
		"GET /v1/status 60 unknown invalid or expired token",
		"POST /v1/users/{name}/{action} 3 unknown no token",
	}, sink.summary(t), "one record per route and interval, with the count")
	e := sink.recs[0]
	assert.Equal(t, unauthStart.Format(time.RFC3339Nano), e.Details[detailFirst], "first call")
	assert.Equal(t, unauthStart.Add(10*time.Second).Format(time.RFC3339Nano), e.Details[detailLast], "last call")
	assert.Equal(t, unauthStart.Add(10*time.Second), e.Time, "the record's time is the last call's")

	// A quiet interval writes nothing; the next call starts a new one.
	clk.Advance(5 * UnauthInterval)
	assert.Len(t, sink.summary(t), 2)
	u.Note(PeerCred{UID: 1000, PID: 4242}, "GET /v1/history", "no token")
	u.Note(PeerCred{UID: 1001, PID: 17}, "GET /v1/history", "no token")
	u.Note(PeerCred{UID: 1000, PID: 4243}, "GET /v1/history", "no token")
	clk.Advance(UnauthInterval)
	got := sink.recs
	require.Len(t, got, 4, "one record per uid")
	assert.Equal(t, map[string]string{"uid": "1000", "pid": "4242", "count": "2", "reason": "no token",
		"first": got[2].Details["first"], "last": got[2].Details["last"]}, got[2].Details)
	assert.Equal(t, "local uid=1000 pid=4242", got[2].Actor, "the actor is the peer")
	assert.Equal(t, "1001", got[3].Details[detailUID])

	// Closing writes what is open and ignores later calls.
	u.Note(PeerCred{UID: 7, PID: 8}, "GET /v1/status", "no token")
	u.Close()
	require.Len(t, sink.recs, 5)
	u.Note(PeerCred{UID: 7, PID: 8}, "GET /v1/status", "no token")
	clk.Advance(UnauthInterval)
	assert.Len(t, sink.recs, 5, "nothing after Close")
}

func TestUnauthenticatedKeysAreBounded(t *testing.T) {
	clk := clock.NewFake(unauthStart)
	sink := &recordSink{}
	u := NewUnauthenticated(clk, UnauthInterval, sink.write)
	for i := 0; i < unauthMaxKeys+40; i++ {
		u.Note(PeerCred{UID: 1000 + i, PID: 1}, "GET /v1/status", "no token")
	}
	clk.Advance(UnauthInterval)
	got := sink.recs
	require.Len(t, got, unauthMaxKeys+1, "the keys of an interval are bounded")
	last := got[len(got)-1]
	assert.Equal(t, "*", last.Object)
	assert.Equal(t, "40", last.Details[audit.DetailCount], "the calls beyond the bound are counted together")
	assert.Equal(t, "many", last.Details[detailUID])
	assert.Equal(t, "local", last.Actor)
}

// TestUnauthenticatedRemote: the web console's refused requests aggregate
// per client address (whatever the port) and route, named by the address.
func TestUnauthenticatedRemote(t *testing.T) {
	clk := clock.NewFake(unauthStart)
	sink := &recordSink{}
	u := NewUnauthenticated(clk, UnauthInterval, sink.write)
	for i := 0; i < 5; i++ {
		u.NoteRemote(fmt.Sprintf("198.18.60.11:%d", 42000+i), "GET /overview", "invalid or expired session cookie")
	}
	u.NoteRemote("198.18.60.12:1000", "GET /overview", "invalid or expired session cookie")
	u.Note(PeerCred{UID: 0, PID: 7}, "GET /v1/status", "no token")
	clk.Advance(UnauthInterval)
	require.Len(t, sink.recs, 3)
	r := sink.recs[0]
	assert.Equal(t, "198.18.60.11", r.Actor)
	assert.Equal(t, "GET /overview", r.Object)
	assert.Equal(t, "5", r.Details[audit.DetailCount])
	assert.Equal(t, "198.18.60.11:42000", r.Details[audit.DetailRemote], "the first request's address")
	assert.NotContains(t, r.Details, detailUID)
	assert.Equal(t, "198.18.60.12", sink.recs[1].Actor)
	assert.Equal(t, "local uid=0 pid=7", sink.recs[2].Actor)
}
