package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zonegate/zonegate/test/lab"
)

// TestMgmtAccounts drives the accounts of a running daemon through the
// CLI: lockout after wrong passwords and unlock by an administrator, role
// refusals (each audited as denied), the password policy, password reuse,
// a forced password change, and a session that expires (the settings give
// sessions the shortest lifetime the policy allows, one minute; the other
// steps run while it ticks).
func TestMgmtAccounts(t *testing.T) {
	mgRequire(t)
	t.Parallel()
	bin := mgBuild(t)
	ns := mgNamespace(t, "zgmg7")

	// A session lifetime below the policy's minimum (1m) is refused before
	// the daemon touches the ruleset.
	short := mgNewDaemon(t, bin, ns, mgSettings("passwords:", "  session_lifetime: 2s"), "")
	out, err := lab.Command(ns, bin, "serve", "--config", short.Config, "--state-dir", short.State, "--socket", short.Socket).CombinedOutput()
	if code := mgExitCode(err); code != 1 || !strings.Contains(string(out), "session lifetime 2s: use at least 1m") {
		t.Errorf("serve with passwords.session_lifetime 2s: exit %d, want 1 naming the limit:\n%s", code, out)
	}
	if rs := mgRuleset(t, ns); rs != "" {
		t.Errorf("serve refused its settings but installed a ruleset:\n%s", rs)
	}

	d := mgStartDaemon(t, bin, ns, mgSettings("passwords:", "  session_lifetime: 1m"), "")
	d.initAdmin(t)
	d.addUser(t, "early", "viewer", mgViewerPW)
	earlyToken := d.token(t, "early")
	if code, body := d.api(t, "GET", "/v1/status", earlyToken, ""); code != http.StatusOK {
		t.Fatalf("a fresh session gets %d on /v1/status: %s", code, body)
	}
	var early struct {
		Expires time.Time `json:"expires"`
	}
	if b, err := os.ReadFile(d.sessionFile("early")); err != nil || json.Unmarshal(b, &early) != nil {
		t.Fatalf("session file of early: %v %s", err, b)
	}
	if life := time.Until(early.Expires); life > time.Minute || life < 0 {
		t.Errorf("the session expires in %s; session_lifetime is 1m", life)
	}

	t.Run("LockoutAndUnlock", func(t *testing.T) {
		d.login(t, "admin", mgAdminPW)
		d.mustCLI(t, "admin", "Lantern-Pebble-Orchid-52\n", "user", "add", "lena", "--role", "viewer")
		for i := 1; i <= 5; i++ {
			e := d.failCLI(t, "lena", fmt.Sprintf("Wrong-Guess-Number-%d\n", i), "login", "lena")
			if !strings.Contains(e, "wrong user name or password") {
				t.Errorf("wrong password %d: %q", i, e)
			}
		}
		e := d.failCLI(t, "lena", "Lantern-Pebble-Orchid-52\n", "login", "lena")
		if !strings.Contains(e, "locked") {
			t.Fatalf("the right password after 5 wrong ones: %q, want the account locked", e)
		}
		if out := d.mustCLI(t, "admin", "", "user", "list"); !mgUserState(out, "lena", "locked") {
			t.Errorf("user list does not show lena locked:\n%s", out)
		}
		d.mustCLI(t, "admin", "", "user", "unlock", "lena")
		d.login(t, "lena", "Lantern-Pebble-Orchid-52")
		if out := d.mustCLI(t, "admin", "", "user", "list"); !mgUserState(out, "lena", "active") {
			t.Errorf("user list does not show lena active after the unlock:\n%s", out)
		}
	})

	t.Run("RoleRefusals", func(t *testing.T) {
		d.login(t, "admin", mgAdminPW)
		d.addUser(t, "vera", "viewer", mgViewerPW)
		d.addUser(t, "oscar", "operator", mgOperatorPW)
		d.addUser(t, "erin", "engineer", mgEngineerPW)
		model := filepath.Join(d.Dir, "base.yaml")
		mgWrite(t, model, mgModelBase)

		for _, user := range []string{"vera", "oscar"} {
			if e := d.failCLI(t, user, "", "push", model, "--confirm-within", "0"); !strings.Contains(e, "permission denied") {
				t.Errorf("%s push: %q, want permission denied", user, e)
			}
		}
		if e := d.failCLI(t, "vera", "", "rollback"); !strings.Contains(e, "permission denied") {
			t.Errorf("vera rollback: %q, want permission denied", e)
		}
		for _, user := range []string{"oscar", "erin"} {
			if e := d.failCLI(t, user, "Fresh-Willow-Canyon-73\n", "user", "add", "x"+user, "--role", "admin"); !strings.Contains(e, "permission denied") {
				t.Errorf("%s user add: %q, want permission denied", user, e)
			}
			if e := d.failCLI(t, user, "", "user", "disable", "vera"); !strings.Contains(e, "permission denied") {
				t.Errorf("%s user disable: %q, want permission denied", user, e)
			}
		}
		if vs := d.history(t, "vera"); len(vs) != 0 {
			t.Fatalf("refused pushes left versions behind: %+v", vs)
		}
		d.mustCLI(t, "erin", "", "push", model, "--confirm-within", "0", "--comment", "by the engineer")
		if vs := d.history(t, "vera"); len(vs) != 1 || vs[0].User != "erin" || vs[0].State != "running" {
			t.Errorf("history after the engineer's push: %+v", vs)
		}
		if st := d.status(t, "vera"); st.Version != 1 || st.Island {
			t.Errorf("status after the engineer's push: version %d island %v (%s)", st.Version, st.Island, st.IslandReason)
		}
		out := d.mustCLI(t, "admin", "", "user", "list")
		for _, u := range []string{"xoscar", "xerin"} {
			if mgUserState(out, u, "") {
				t.Errorf("refused user add created %s:\n%s", u, out)
			}
		}
		if !mgUserState(out, "vera", "active") {
			t.Errorf("refused disable changed vera:\n%s", out)
		}
	})

	t.Run("PasswordPolicy", func(t *testing.T) {
		d.login(t, "admin", mgAdminPW)
		for _, tc := range []struct{ user, pw, why string }{
			{"pia", "Sh0rt-Pw!", "shorter than 12 characters"},
			{"pia", "Password123!", "commonly used password"},
			{"pablo", "Pablo-Harbor-Quartz-9", "contains the user name"},
			{"pia", "zonegate-Harbor-77", `contains "zonegate"`},
		} {
			e := d.failCLI(t, "admin", tc.pw+"\n", "user", "add", tc.user, "--role", "viewer")
			if !strings.Contains(e, "password refused") || !strings.Contains(e, tc.why) {
				t.Errorf("user add %s with a weak password: %q, want it refused as %q", tc.user, e, tc.why)
			}
		}
		out := d.mustCLI(t, "admin", "", "user", "list")
		if mgUserState(out, "pia", "") || mgUserState(out, "pablo", "") {
			t.Errorf("a refused password created the user:\n%s", out)
		}
	})

	t.Run("PasswordReuse", func(t *testing.T) {
		d.login(t, "admin", mgAdminPW)
		pw := []string{"Coral-Thistle-Ember-18", "Nimbus-Quiver-Saddle-45", "Juniper-Oxide-Beacon-90"}
		d.addUser(t, "remy", "viewer", pw[0])
		for i := 1; i < len(pw); i++ {
			out := d.mustCLI(t, "remy", pw[i-1]+"\n"+pw[i]+"\n", "user", "passwd")
			if !strings.Contains(out, "log in again") {
				t.Errorf("passwd output: %q", out)
			}
			if _, _, code := d.cli(t, "remy", "", "status"); code == 0 {
				t.Errorf("the session from before password change %d still works", i)
			}
			d.login(t, "remy", pw[i])
		}
		cur := pw[len(pw)-1]
		for _, old := range pw {
			e := d.failCLI(t, "remy", cur+"\n"+old+"\n", "user", "passwd")
			if !strings.Contains(e, "used recently") || !strings.Contains(e, "last 5") {
				t.Errorf("passwd back to an earlier password: %q, want refused as used recently (last 5)", e)
			}
		}
		e := d.failCLI(t, "remy", pw[0]+"\n"+"Brand-New-Walnut-Cipher-6\n", "user", "passwd")
		if !strings.Contains(e, "current password is wrong") {
			t.Errorf("passwd with a wrong current password: %q", e)
		}
		d.login(t, "remy", cur) // nothing changed
	})

	t.Run("MustChangePassword", func(t *testing.T) {
		d.login(t, "admin", mgAdminPW)
		d.mustCLI(t, "admin", "Ferry-Lattice-Mosaic-31\n", "user", "add", "mia", "--role", "operator", "--must-change")
		d.login(t, "mia", "Ferry-Lattice-Mosaic-31")
		if e := d.failCLI(t, "mia", "", "status"); !strings.Contains(e, "must be changed") {
			t.Errorf("status before the forced password change: %q, want a refusal saying the password must be changed", e)
		}
		d.mustCLI(t, "mia", "Ferry-Lattice-Mosaic-31\nHollow-Prism-Meadow-84\n", "user", "passwd")
		d.login(t, "mia", "Hollow-Prism-Meadow-84")
		d.status(t, "mia")
	})

	t.Run("SessionExpires", func(t *testing.T) {
		time.Sleep(time.Until(early.Expires) + time.Second)
		if _, e, code := d.cli(t, "early", "", "status"); code == 0 || !strings.Contains(e, "expired") {
			t.Errorf("the CLI with an expired session: exit %d %q, want a refusal saying the session expired", code, e)
		}
		// The daemon refuses the token by itself, whatever the client
		// believes.
		code, body := d.api(t, "GET", "/v1/status", earlyToken, "")
		if code != http.StatusUnauthorized || !strings.Contains(string(body), "log in again") {
			t.Errorf("an expired token gets %d %s; want 401 asking to log in again", code, body)
		}
		forged := fmt.Sprintf(`{"socket":%q,"user":"early","token":%q,"expires":%q}`, d.Socket, earlyToken, time.Now().Add(time.Hour).Format(time.RFC3339))
		mgWrite(t, d.sessionFile("early"), forged)
		if e := d.failCLI(t, "early", "", "status"); !strings.Contains(e, "log in again") {
			t.Errorf("the CLI with a server-side expired token: %q, want it to ask to log in again", e)
		}
		d.login(t, "early", mgViewerPW)
		d.status(t, "early")
	})

	d.stop(t)
	mgAuditVerify(t, bin, d.AuditDir())
	recs := mgAuditShow(t, bin, d.AuditDir())
	// Lockout and unlock.
	if n := mgCount(recs, mgWant{Category: "account", Action: "login-failure", Actor: "lena", Result: "failure", Object: "user:lena", Detail: [2]string{"reason", "wrong password"}}); n != 5 {
		t.Errorf("%d wrong-password records for lena, want 5", n)
	}
	mgAuditExpect(t, recs,
		mgWant{Category: "account", Action: "lockout", Actor: "@system", Result: "success", Object: "user:lena"},
		mgWant{Category: "account", Action: "login-failure", Actor: "lena", Result: "failure", Object: "user:lena", Detail: [2]string{"reason", "account locked"}},
		mgWant{Category: "account", Action: "unlock", Actor: "admin", Result: "success", Object: "user:lena"},
		mgWant{Category: "account", Action: "login-success", Actor: "lena", Result: "success"},
	)
	// Role refusals, each as denied with the user's role.
	mgAuditExpect(t, recs,
		mgWant{Category: "config", Action: "push-model", Actor: "vera", Result: "denied", Object: "/v1/push", Detail: [2]string{"role", "viewer"}},
		mgWant{Category: "config", Action: "push-model", Actor: "oscar", Result: "denied", Object: "/v1/push", Detail: [2]string{"role", "operator"}},
		mgWant{Category: "config", Action: "rollback", Actor: "vera", Result: "denied", Object: "/v1/rollback"},
		mgWant{Category: "account", Action: "create", Actor: "oscar", Result: "denied", Object: "user:xoscar"},
		mgWant{Category: "account", Action: "disable", Actor: "oscar", Result: "denied", Object: "user:vera"},
		mgWant{Category: "account", Action: "create", Actor: "erin", Result: "denied", Object: "user:xerin"},
		mgWant{Category: "account", Action: "disable", Actor: "erin", Result: "denied", Object: "user:vera"},
		mgWant{Category: "config", Action: "model-applied", Actor: "erin", Result: "success", Object: "model v1"},
	)
	// Password policy and reuse.
	mgAuditExpect(t, recs,
		mgWant{Category: "account", Action: "create", Actor: "admin", Result: "failure", Object: "user:pia", Detail: [2]string{"reason", "shorter than 12"}},
		mgWant{Category: "account", Action: "create", Actor: "admin", Result: "failure", Object: "user:pia", Detail: [2]string{"reason", "commonly used"}},
		mgWant{Category: "account", Action: "create", Actor: "admin", Result: "failure", Object: "user:pablo", Detail: [2]string{"reason", "user name"}},
		mgWant{Category: "account", Action: "password-change", Actor: "remy", Result: "success", Object: "user:remy"},
		mgWant{Category: "account", Action: "password-change", Actor: "remy", Result: "success", Object: "user:remy"},
		mgWant{Category: "account", Action: "password-change", Actor: "remy", Result: "failure", Object: "user:remy", Detail: [2]string{"reason", "used recently"}},
		mgWant{Category: "account", Action: "create", Actor: "admin", Result: "success", Object: "user:mia", Detail: [2]string{"must_change", "true"}},
		mgWant{Category: "config", Action: "view-status", Actor: "mia", Result: "denied", Object: "/v1/status"},
		mgWant{Category: "account", Action: "password-change", Actor: "mia", Result: "success", Object: "user:mia"},
	)
	if n := mgCount(recs, mgWant{Category: "account", Action: "password-change", Actor: "remy", Result: "success"}); n != 2 {
		t.Errorf("%d successful password changes of remy, want 2", n)
	}
	for _, r := range recs {
		for k, v := range r.Details {
			for _, pw := range []string{mgAdminPW, mgViewerPW, "Lantern-Pebble-Orchid-52", "Coral-Thistle-Ember-18", "Password123!", "Wrong-Guess-Number-1"} {
				if strings.Contains(v, pw) {
					t.Errorf("audit record %d holds a password in detail %s", r.Seq, k)
				}
			}
		}
	}
}

// mgUserState reports whether `user list` shows user (in state, when not
// empty).
func mgUserState(list, user, state string) bool {
	for _, line := range strings.Split(list, "\n") {
		f := strings.Fields(line)
		if len(f) >= 3 && f[0] == user {
			return state == "" || strings.HasPrefix(strings.Join(f[2:], " "), state)
		}
	}
	return false
}

// TestMgmtParallelLogins sends 50 logins at once through the CLI and
// checks that the daemon's peak memory stays bounded (argon2id needs 19 MiB
// per hash; at most two run at once) and that the sessions per user stay
// capped.
func TestMgmtParallelLogins(t *testing.T) {
	mgRequire(t)
	t.Parallel()
	bin := mgBuild(t)
	ns := mgNamespace(t, "zgmg8")
	d := mgStartDaemon(t, bin, ns, mgSettings(), "")
	d.initAdmin(t)
	d.addUser(t, "pat", "viewer", mgViewerPW)
	before := mgVmHWM(t, d.pid())

	const n = 50
	type result struct {
		code   int
		stderr string
	}
	results := make([]result, n)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			_, e, code := d.cli(t, fmt.Sprintf("pat%d", i), mgViewerPW+"\n", "login", "pat")
			results[i] = result{code, e}
		}(i)
	}
	wg.Wait()
	after := mgVmHWM(t, d.pid())
	ok, busy := 0, 0
	for i, r := range results {
		switch {
		case r.code == 0:
			ok++
		case strings.Contains(r.stderr, "too many logins in progress"):
			busy++ // the documented answer when hashing slots stay taken
		default:
			t.Errorf("login %d: exit %d %s", i, r.code, r.stderr)
		}
	}
	t.Logf("50 parallel logins: %d succeeded, %d refused as busy; daemon VmHWM %d KiB before, %d KiB after (%.1f MiB)",
		ok, busy, before, after, float64(after)/1024)
	if ok == 0 {
		t.Fatalf("none of %d parallel logins succeeded", n)
	}
	const limitKiB = 400 << 10
	if after > limitKiB {
		t.Errorf("daemon peak memory after %d parallel logins is %d KiB, above the %d KiB bound", n, after, limitKiB)
	}
	st := d.status(t, "admin")
	if st.Sessions > 8+1 {
		t.Errorf("%d live sessions after %d logins of one user: the per-user cap (8) does not hold", st.Sessions, n)
	}
	d.stop(t)
	recs := mgAuditShow(t, bin, d.AuditDir())
	if got := mgCount(recs, mgWant{Category: "account", Action: "login-success", Actor: "pat", Result: "success"}); got != ok+1 {
		t.Errorf("%d login-success records of pat, want %d (one before, %d in parallel)", got, ok+1, ok)
	}
	mgAuditVerify(t, bin, d.AuditDir())
}
