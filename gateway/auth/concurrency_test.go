package auth

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

// vmHWM returns the process's peak resident set size in KiB, or -1.
func vmHWM() int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return -1
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			n, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err == nil {
				return n
			}
		}
	}
	return -1
}

// resetHWM resets the peak RSS to the current RSS (Linux 4.0+); it
// reports whether that worked.
func resetHWM() bool {
	return os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) == nil
}

// 50 logins at once with the default argon2 parameters: never more than
// MaxConcurrentHashes hashes run at the same time, all logins succeed, and
// the peak memory stays near limit x 19 MiB instead of 50 x 19 MiB.
func TestParallelLoginsBoundedMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("uses the default (19 MiB) argon2 parameters")
	}
	e := newEnv(t, false, func(p *Policy) {
		p.Argon2 = DefaultParams()
		p.HashWait = time.Minute
		p.MaxSessionsPerUser = 64
	})
	must(t, e.m.Init(e.ctx, "root_admin", pwAdmin))
	e.addUser("alice", RoleOperator, pwAlice)
	var c countingDerive
	c.install(e.m.hasher)

	debug.FreeOSMemory()
	reset := resetHWM()
	before := vmHWM()
	const n = 50
	var wg sync.WaitGroup
	errs := make(chan error, n)
	start := time.Now()
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			user, pw := "root_admin", pwAdmin
			switch i % 5 {
			case 1:
				user, pw = "alice", pwAlice
			case 2:
				user, pw = "nobody", wrongPw // unknown user: a dummy hash
			}
			_, _, err := e.m.Login(e.ctx, user, pw, fmt.Sprintf("client-%d", i))
			if user == "nobody" {
				// Like an account: wrong credentials, then locked after
				// LockoutThreshold failures.
				if !errors.Is(err, ErrBadCredentials) && !errors.Is(err, ErrLocked) {
					errs <- fmt.Errorf("login %d: %v, want ErrBadCredentials or ErrLocked", i, err)
				}
				return
			}
			if err != nil {
				errs <- fmt.Errorf("login %d: %v", i, err)
			}
		}(i)
	}
	wg.Wait()
	elapsed := time.Since(start)
	close(errs)
	for err := range errs {
		assert.NoError(t, err)
	}
	after := vmHWM()
	limit := int64(e.m.policy.MaxConcurrentHashes)
	assert.Equal(t, int64(n), c.calls.Load(), "hashes computed (locked names too)")
	assert.LessOrEqual(t, c.peak.Load(), limit, "hashes at once")
	assert.GreaterOrEqual(t, c.peak.Load(), int64(1), "no hash ran")
	assert.Equal(t, n*4/5, e.m.SessionCount(), "sessions")
	t.Logf("50 parallel logins, m=19 MiB, limit %d: peak concurrency %d, %v total (%v per hash); VmHWM before %d KiB, after %d KiB (+%d KiB; peak reset: %v)",
		limit, c.peak.Load(), elapsed.Round(time.Millisecond), (elapsed / n * time.Duration(limit)).Round(time.Millisecond),
		before, after, after-before, reset)
	if before > 0 && after > 0 && reset && !raceEnabled {
		// Unbounded, 50 hashes would need about 950 MiB. Allow the limit's
		// worth plus garbage the collector has not returned yet.
		bound := limit * 19 * 1024 * 4
		assert.Less(t, after-before, bound, "peak RSS growth in KiB")
	}
}

// Many goroutines changing and reading accounts at once: every operation
// ends consistently (run with -race where cgo is available).
func TestConcurrentUse(t *testing.T) {
	e := newEnv(t, true, func(p *Policy) { p.MaxConcurrentHashes = 4 })
	for i := 0; i < 4; i++ {
		e.addUser(fmt.Sprintf("user%d", i), RoleOperator, pwAlice)
	}
	tok := e.mustLogin("root_admin", pwAdmin)
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			name := fmt.Sprintf("user%d", g%4)
			for i := 0; i < 20; i++ {
				switch i % 6 {
				case 0:
					_, _, _ = e.m.Login(e.ctx, name, pwAlice, "")
				case 1:
					_, _, _ = e.m.Login(e.ctx, name, wrongPw, "")
				case 2:
					_ = e.m.SetRole(e.ctx, e.admin, name, Role(1+i%4))
				case 3:
					_ = e.m.DisableUser(e.ctx, e.admin, name)
				case 4:
					_ = e.m.EnableUser(e.ctx, e.admin, name)
				case 5:
					_ = e.m.Unlock(e.ctx, e.admin, name)
				}
				if _, err := e.m.Authenticate(tok); err != nil {
					t.Errorf("admin session lost: %v", err)
				}
				_, _ = e.m.Users(e.admin)
			}
		}(g)
	}
	wg.Wait()
	// Memory and disk agree.
	m2 := e.reopen()
	a, b := e.m.snapshot(), m2.snapshot()
	eq(t, len(a), len(b), "accounts")
	for name, x := range a {
		y := b[name]
		check(t, y != nil && x.Role == y.Role && x.Disabled == y.Disabled && x.Locked == y.Locked && len(x.Failures) == len(y.Failures),
			"%s differs between memory and disk", name)
	}
}
