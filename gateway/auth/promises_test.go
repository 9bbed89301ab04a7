package auth

import (
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSetRoleToSameRoleIsUnchanged(t *testing.T) {
	e := newEnv(t, true)
	e.addUser("alice", RoleOperator, pwAlice)
	before := e.fileBytes()
	e.sink.reset()

	err := e.m.SetRole(e.ctx, e.admin, "alice", RoleOperator)
	require.ErrorIs(t, err, ErrUnchanged)
	assert.Contains(t, err.Error(), "alice already has the role operator")
	assert.Empty(t, e.sink.all(), "an unchanged role must write no audit event")
	assert.Equal(t, before, e.fileBytes(), "an unchanged role must not rewrite the account file")

	// A real change still works and is recorded.
	require.NoError(t, e.m.SetRole(e.ctx, e.admin, "alice", RoleEngineer))
	assert.Len(t, e.sink.find(ActionRoleChange), 1)
	// Permission and existence are still checked first.
	require.ErrorIs(t, e.m.SetRole(e.ctx, Actor{Name: "alice", Role: RoleEngineer}, "alice", RoleEngineer), ErrForbidden)
	require.ErrorIs(t, e.m.SetRole(e.ctx, e.admin, "nobody", RoleViewer), ErrNoUser)
}

// loginAnswers logs in as name with wrong passwords n times, then with pw,
// and returns every error message.
func loginAnswers(e *env, name, pw string, n int) []error {
	var errs []error
	for i := 0; i < n; i++ {
		_, err := e.login(name, wrongPw)
		errs = append(errs, err)
	}
	_, err := e.login(name, pw)
	return append(errs, err)
}

func TestLockedMessageSameForUnknownUsers(t *testing.T) {
	for _, untilUnlocked := range []bool{false, true} {
		t.Run(map[bool]string{false: "timed", true: "until-unlocked"}[untilUnlocked], func(t *testing.T) {
			e := newEnv(t, true, func(p *Policy) { p.LockoutUntilUnlocked = untilUnlocked })
			e.addUser("alice", RoleOperator, pwAlice)
			// Two names of the same length, so that even the messages'
			// lengths match once the names are swapped.
			known := loginAnswers(e, "alice", pwAlice, 6)
			unknown := loginAnswers(e, "carol", pwAlice, 6)
			require.Len(t, unknown, len(known))
			for i := range known {
				require.Error(t, known[i])
				require.Error(t, unknown[i])
				assert.Equal(t, errors.Is(known[i], ErrLocked), errors.Is(unknown[i], ErrLocked), "attempt %d", i+1)
				assert.Equal(t, errors.Is(known[i], ErrBadCredentials), errors.Is(unknown[i], ErrBadCredentials), "attempt %d", i+1)
				assert.Equal(t, known[i].Error(), strings.ReplaceAll(unknown[i].Error(), "carol", "alice"), "attempt %d", i+1)
			}
			assert.ErrorIs(t, known[5], ErrLocked, "the right password while locked")
			var kl, ul *LockedError
			require.ErrorAs(t, known[6], &kl)
			require.ErrorAs(t, unknown[6], &ul)
			assert.Equal(t, kl.Until, ul.Until)

			if !untilUnlocked {
				// Both locks end at the same time.
				e.clock.Advance(15 * time.Minute)
				_, err := e.login("carol", wrongPw)
				assert.ErrorIs(t, err, ErrBadCredentials)
				assert.NotErrorIs(t, err, ErrLocked)
				_, err = e.login("alice", pwAlice)
				assert.NoError(t, err)
			}
		})
	}
}

func TestUnknownNamesAreBounded(t *testing.T) {
	var n unknownNames
	p := fastPolicy()
	now := time.Date(2025, 3, 1, 8, 0, 0, 0, time.UTC)
	for i := 0; i < maxUnknownNames+100; i++ {
		n.failed("u"+strconv.Itoa(i), now, &p)
	}
	assert.LessOrEqual(t, len(n.names), maxUnknownNames)
}
