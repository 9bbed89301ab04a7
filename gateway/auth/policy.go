package auth

import (
	"errors"
	"fmt"
	"time"
)

// Policy holds the settings of password hashing, the password rules,
// lockout and sessions. Start from DefaultPolicy; in Options, a zero field
// means its default.
type Policy struct {
	// Argon2 are the parameters of new hashes (default DefaultParams).
	// Hashes are verified with their own stored parameters, so raising
	// these later is safe; old hashes are replaced at the next login.
	Argon2 Params
	// MaxConcurrentHashes bounds the argon2 computations running at once
	// (default 2). Memory used by logins is at most this times
	// Argon2.Memory.
	MaxConcurrentHashes int
	// HashWait is how long a login waits for a hashing slot before it
	// fails with ErrBusy (default 10 s). The caller's context can end the
	// wait earlier.
	HashWait time.Duration

	// MinLength is the minimum password length in characters (default
	// 12; at least 8).
	MinLength int
	// MaxLength is the maximum password length in bytes (default 1024). It
	// bounds the work done on attacker-supplied input.
	MaxLength int
	// History is how many of the user's most recent passwords, the current
	// one included, a new password must differ from (default 5; 1 means
	// only the current one).
	History int
	// ForbiddenWords are refused anywhere in a password, case-insensitive,
	// in addition to the user name and "zonegate": put the gateway's name,
	// the site and the company here. Words shorter than 4 are ignored.
	ForbiddenWords []string

	// LockoutThreshold is the number of failed logins within LockoutWindow
	// that locks an account (default 5).
	LockoutThreshold int
	// LockoutWindow is the period in which failures are counted (default
	// 15 min).
	LockoutWindow time.Duration
	// LockoutDuration is how long a lock lasts (default 15 min), unless
	// LockoutUntilUnlocked is set.
	LockoutDuration time.Duration
	// LockoutUntilUnlocked keeps accounts locked until an administrator
	// unlocks them. Beware: anyone who knows the user names can then lock
	// out every administrator; recovery needs the local console.
	LockoutUntilUnlocked bool

	// SessionLifetime is the absolute lifetime of a session (default 8 h,
	// one shift).
	SessionLifetime time.Duration
	// SessionIdle ends a session not used for this long (default 30 min;
	// negative: no idle limit).
	SessionIdle time.Duration
	// MaxSessionsPerUser bounds the sessions of one user (default 8). A
	// new login beyond it ends the user's oldest session.
	MaxSessionsPerUser int
}

// DefaultPolicy returns the default policy.
func DefaultPolicy() Policy {
	return Policy{
		Argon2:              DefaultParams(),
		MaxConcurrentHashes: 2,
		HashWait:            10 * time.Second,
		MinLength:           12,
		MaxLength:           1024,
		History:             5,
		LockoutThreshold:    5,
		LockoutWindow:       15 * time.Minute,
		LockoutDuration:     15 * time.Minute,
		SessionLifetime:     8 * time.Hour,
		SessionIdle:         30 * time.Minute,
		MaxSessionsPerUser:  8,
	}
}

// withDefaults returns p with zero fields set to their defaults.
func (p Policy) withDefaults() Policy {
	d := DefaultPolicy()
	if p.Argon2 == (Params{}) {
		p.Argon2 = d.Argon2
	}
	setInt := func(v *int, def int) {
		if *v == 0 {
			*v = def
		}
	}
	setDur := func(v *time.Duration, def time.Duration) {
		if *v == 0 {
			*v = def
		}
	}
	setInt(&p.MaxConcurrentHashes, d.MaxConcurrentHashes)
	setDur(&p.HashWait, d.HashWait)
	setInt(&p.MinLength, d.MinLength)
	setInt(&p.MaxLength, d.MaxLength)
	setInt(&p.History, d.History)
	setInt(&p.LockoutThreshold, d.LockoutThreshold)
	setDur(&p.LockoutWindow, d.LockoutWindow)
	setDur(&p.LockoutDuration, d.LockoutDuration)
	setDur(&p.SessionLifetime, d.SessionLifetime)
	setDur(&p.SessionIdle, d.SessionIdle)
	setInt(&p.MaxSessionsPerUser, d.MaxSessionsPerUser)
	return p
}

// Validate checks a complete policy (after defaults are applied).
func (p Policy) Validate() error {
	var errs []error
	check := func(ok bool, format string, a ...any) {
		if !ok {
			errs = append(errs, fmt.Errorf(format, a...))
		}
	}
	if err := p.Argon2.Validate(); err != nil {
		errs = append(errs, err)
	}
	check(p.MaxConcurrentHashes >= 1 && p.MaxConcurrentHashes <= 64, "max concurrent hashes %d: use 1 to 64", p.MaxConcurrentHashes)
	check(p.HashWait > 0, "hash wait %v: must be positive", p.HashWait)
	check(p.MinLength >= 8, "minimum password length %d: use at least 8", p.MinLength)
	check(p.MaxLength >= 64 && p.MaxLength <= 4096, "maximum password length %d: use 64 to 4096 bytes", p.MaxLength)
	check(p.MaxLength >= p.MinLength, "maximum password length %d is below the minimum %d", p.MaxLength, p.MinLength)
	check(p.History >= 1 && p.History <= 24, "password history %d: use 1 to 24", p.History)
	check(p.LockoutThreshold >= 1 && p.LockoutThreshold <= 100, "lockout threshold %d: use 1 to 100", p.LockoutThreshold)
	check(p.LockoutWindow > 0, "lockout window %v: must be positive", p.LockoutWindow)
	check(p.LockoutDuration > 0, "lockout duration %v: must be positive", p.LockoutDuration)
	check(p.SessionLifetime >= time.Minute, "session lifetime %v: use at least 1m", p.SessionLifetime)
	check(p.MaxSessionsPerUser >= 1, "max sessions per user %d: use at least 1", p.MaxSessionsPerUser)
	if len(errs) > 0 {
		return fmt.Errorf("invalid auth policy: %w", errors.Join(errs...))
	}
	return nil
}
