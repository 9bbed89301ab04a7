package auth

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestWithRemote: account changes and refusals made with a context that
// names the request's remote address (a web console's client) carry it in
// their events; a login keeps the client it was given.
func TestWithRemote(t *testing.T) {
	e := newEnv(t, true)
	ctx := WithRemote(e.ctx, "198.18.60.10:51234")
	require.NoError(t, e.m.AddUser(ctx, e.admin, "alice", RoleOperator, pwAlice, false))
	require.NoError(t, e.m.DisableUser(ctx, e.admin, "alice"))
	viewer := Actor{Name: "vera", Role: RoleViewer}
	require.ErrorIs(t, e.m.Unlock(ctx, viewer, "alice"), ErrForbidden)
	for _, a := range []Action{ActionCreate, ActionDisable, ActionUnlock} {
		evs := e.sink.find(a)
		require.NotEmpty(t, evs, a)
		assert.Equal(t, "198.18.60.10:51234", evs[len(evs)-1].Detail[DetailRemote], a)
	}
	assert.Equal(t, ResultDenied, e.sink.find(ActionUnlock)[0].Result)

	_, _, err := e.m.Login(ctx, "root_admin", "wrong password for sure", "198.18.60.11:40000")
	require.ErrorIs(t, err, ErrBadCredentials)
	fails := e.sink.find(ActionLoginFailure)
	assert.Equal(t, "198.18.60.11:40000", fails[len(fails)-1].Detail[DetailRemote], "the login's own client wins")

	require.NoError(t, e.m.EnableUser(e.ctx, e.admin, "alice"))
	en := e.sink.find(ActionEnable)
	assert.NotContains(t, en[len(en)-1].Detail, DetailRemote, "no remote in the context, none in the event")
}
