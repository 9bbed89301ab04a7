package gateway

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zonegate/zonegate/gateway/api"
	"github.com/zonegate/zonegate/gateway/audit"
	"github.com/zonegate/zonegate/gateway/changes"
	"github.com/zonegate/zonegate/gateway/settings"
)

// The promises of the audit log that the daemon keeps: calls without a
// session are recorded (aggregated), the push comment is in the record,
// best-effort records are counted when lost, the API's account answers
// tell nothing about which names exist. Fake kernel, fake clock.

// hCall serves one request on the daemon's API handler.
func (h *harness) hCall(method, path, token, body string) (int, string) {
	h.t.Helper()
	var req *http.Request
	if body == "" {
		req = httptest.NewRequest(method, path, nil)
	} else {
		req = httptest.NewRequest(method, path, strings.NewReader(body))
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	rec := httptest.NewRecorder()
	h.d.apiHandler().ServeHTTP(rec, req)
	return rec.Code, rec.Body.String()
}

// unauthSummary is "object count uid reason" of each unauthenticated record.
func (h *harness) unauthSummary() []string {
	var out []string
	for _, e := range h.entries(audit.ActionUnauthenticated) {
		assert.Equal(h.t, audit.CategoryAccount, e.Category)
		assert.Equal(h.t, audit.ResultDenied, e.Result)
		out = append(out, fmt.Sprintf("%s %s %s %s", e.Object, e.Details[audit.DetailCount], e.Details["uid"], e.Details[audit.DetailReason]))
	}
	return out
}

func TestUnauthenticatedCallsAreWrittenAtShutdown(t *testing.T) {
	h := newHarness(t)
	code, _ := h.hCall("GET", "/v1/history", "", "")
	require.Equal(t, http.StatusUnauthorized, code)
	h.restart()
	assert.Equal(t, []string{"GET /v1/history 1 unknown no token"}, h.unauthSummary(), "closing the log writes the open interval")
	var actions []audit.Action
	require.NoError(t, audit.Read(h.set.AuditDir(), audit.Filter{}, func(e audit.Entry) error {
		if e.Action == audit.ActionUnauthenticated || e.Action == audit.ActionServiceStop {
			actions = append(actions, e.Action)
		}
		return nil
	}))
	assert.Equal(t, []audit.Action{audit.ActionUnauthenticated, audit.ActionServiceStop}, actions, "refused calls come before the stop record")
}

func TestStopRecordLossIsCounted(t *testing.T) {
	h := newHarness(t)
	require.NoError(t, h.d.rec.Log().Close())
	h.d.closeAudit()
	assert.Equal(t, uint64(1), h.d.rec.Log().Stats().LostBestEffort, "the stop record that could not be written is counted")
	assert.True(t, h.logged("audit record lost"))
}

// TestAccountAnswers: a role change to the role the user has is a
// success that says "unchanged" and records nothing; a locked name gets
// the same answer whether or not it has an account.
func TestAccountAnswers(t *testing.T) {
	h := newHarness(t)
	const adminPW, veraPW = "Quartz-Meadow-Lantern-81", "Maple-Orbit-Glacier-39"
	require.NoError(t, h.d.accounts.Init(h.ctx, "admin", adminPW))
	login := func(user, pw string) (int, string) {
		b, _ := json.Marshal(api.Credentials{User: user, Password: pw})
		return h.hCall("POST", "/v1/login", "", string(b))
	}
	code, body := login("admin", adminPW)
	require.Equal(t, http.StatusOK, code, body)
	var lr api.LoginResult
	require.NoError(t, json.Unmarshal([]byte(body), &lr))
	b, _ := json.Marshal(api.UserRequest{Name: "vera", Role: "viewer", Password: veraPW})
	code, body = h.hCall("POST", "/v1/users", lr.Token, string(b))
	require.Equal(t, http.StatusCreated, code, body)

	roleChanges := len(h.entries(audit.ActionRoleChange))
	code, body = h.hCall("POST", "/v1/users/vera/role", lr.Token, `{"role":"viewer"}`)
	assert.Equal(t, http.StatusOK, code, body)
	assert.JSONEq(t, `{"user":"vera","done":"role","unchanged":true}`, body)
	assert.Len(t, h.entries(audit.ActionRoleChange), roleChanges, "nothing is recorded")
	code, body = h.hCall("POST", "/v1/users/vera/role", lr.Token, `{"role":"operator"}`)
	assert.Equal(t, http.StatusOK, code, body)
	assert.JSONEq(t, `{"user":"vera","done":"role"}`, body)

	// Fail both names until they are locked: the same number of tries,
	// then the same status and the same text (but the name).
	lockOut := func(user string) (tries int, code int, msg string) {
		for tries = 1; tries <= 50; tries++ {
			code, body := login(user, "Wrong-Password-Every-Time-1")
			if code != http.StatusUnauthorized {
				var e api.Error
				require.NoError(t, json.Unmarshal([]byte(body), &e), body)
				return tries, code, e.Message
			}
		}
		t.Fatalf("%s was never locked", user)
		return
	}
	tv, cv, mv := lockOut("vera")
	tn, cn, mn := lockOut("nobody")
	assert.Equal(t, tv, tn, "tries until locked")
	assert.Equal(t, http.StatusForbidden, cv)
	assert.Equal(t, cv, cn, "status of a locked account and a locked unknown name")
	assert.Equal(t, mv, strings.ReplaceAll(mn, "nobody", "vera"), "text of a locked account and a locked unknown name")
	// The right password does not tell either.
	code, body = login("vera", veraPW)
	assert.Equal(t, cv, code, body)
	var e api.Error
	require.NoError(t, json.Unmarshal([]byte(body), &e))
	assert.Equal(t, mv, e.Message)
}

// TestRunningModelAnswer: GET /v1/model gets the running version's text as
// pushed (404 while none runs: httpapi maps changes.ErrNoModel).
func TestRunningModelAnswer(t *testing.T) {
	h := newHarness(t)
	b := apiBackend{h.d}
	_, err := b.RunningModel()
	require.ErrorIs(t, err, changes.ErrNoModel, "no model runs")
	res := h.push(hModelBase, 0)
	m, err := b.RunningModel()
	require.NoError(t, err)
	assert.Equal(t, api.RunningModel{Version: res.Version, Digest: res.Digest, Model: hModelBase}, m)
}

// TestAuditUnavailable: an audit log that cannot be opened does not stop
// the gateway (fail close, boot and forwarding go on), but every change is
// refused, and the API says so with 503.
func TestAuditUnavailable(t *testing.T) {
	blocker := filepath.Join(t.TempDir(), "not-a-directory")
	require.NoError(t, os.WriteFile(blocker, nil, 0o600))
	h := newHarness(t, withModelFile(hModelBase), func(s *settings.Settings) { s.Audit.Dir = filepath.Join(blocker, "audit") })
	assert.Nil(t, h.d.rec.Log())
	assert.True(t, h.logged("AUDIT LOG UNAVAILABLE"))
	assert.True(t, h.k.Holds(h.d.table.Ruleset(h.d.tx.Running(), false)), "the model still runs")
	_, err := h.d.tx.Push(h.ctx, changes.Actor{User: "erin"}, []byte(hModelOpen), "", 0)
	assert.ErrorIs(t, err, audit.ErrUnavailable)
	st, err := h.d.Status()
	require.NoError(t, err)
	assert.Nil(t, st.Audit, "no audit statistics without a log")
	code, body := h.hCall("POST", "/v1/init", "", `{"user":"admin","password":"Quartz-Meadow-Lantern-81"}`)
	assert.Equal(t, http.StatusServiceUnavailable, code, "the first administrator cannot be created unaudited: %s", body)
}

// TestSyslogExport: the daemon starts an export for every collector of the
// settings; its records reach a collector on loopback.
func TestSyslogExport(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	got := make(chan string, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		b := make([]byte, 4096)
		n, _ := c.Read(b)
		got <- string(b[:n])
	}()
	h := newHarness(t, func(s *settings.Settings) {
		s.Audit.Syslog = []audit.SyslogSettings{{Address: ln.Addr().String(), Transport: "tcp"}, {Address: ""}}
	})
	msg := <-got // a hang here is the test's timeout
	assert.Contains(t, msg, `seq="1"`, "the log's first record, as RFC 5424: %s", msg)
	assert.Contains(t, msg, "zonegate")
	h.d.closeAudit()
	h.d.rec.SetLog(nil)
}

// TestStartFailsWithoutFailClose: a daemon that cannot put its fail-close
// ruleset in place does not start.
func TestStartFailsWithoutFailClose(t *testing.T) {
	s := settings.Default()
	s.StateDir = filepath.Join(t.TempDir(), "state")
	k, clk := newFakes()
	k.FailApply(nil)
	d := New(Config{Settings: s, Kernel: k, Clock: clk})
	assert.ErrorContains(t, d.open(context.Background()), "cannot put the fail-close ruleset in place")
}
