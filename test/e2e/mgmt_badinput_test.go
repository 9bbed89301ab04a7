package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/zonegate/zonegate/test/prereq"
)

// TestMgmtBadInput sends a running daemon an invalid model (through the
// CLI, whose local check stops it, and straight to the API) and broken
// requests, and checks that each is refused with the right status and that
// nothing changes: history, running version and the kernel's ruleset.
func TestMgmtBadInput(t *testing.T) {
	mgRequire(t)
	t.Parallel()
	bin := mgBuild(t)
	ns := mgNamespace(t, "zgmg9")
	d := mgStartDaemon(t, bin, ns, mgSettings(), mgModelBase)
	d.initAdmin(t)
	token := d.token(t, "admin")
	rules := mgRuleset(t, ns)
	if rules == "" {
		t.Fatal("zonegate serve installed no table inet zonegate")
	}
	history := mgHistoryStates(d.history(t, "admin"))
	unchanged := func(when string) {
		t.Helper()
		if got := mgRuleset(t, ns); got != rules {
			t.Errorf("%s: table inet zonegate changed:\n--- before\n%s\n--- after\n%s", when, rules, got)
		}
		if got := mgHistoryStates(d.history(t, "admin")); got != history {
			t.Errorf("%s: history changed from %q to %q", when, history, got)
		}
		if st := d.status(t, "admin"); st.Version != 1 || st.Pending != nil || st.Island {
			t.Errorf("%s: status version %d pending %+v island %v; want version 1 running alone", when, st.Version, st.Pending, st.Island)
		}
	}

	t.Run("InvalidModelCLI", func(t *testing.T) {
		bad := filepath.Join(d.Dir, "bad.yaml")
		mgWrite(t, bad, mgModelInvalid)
		e := d.failCLI(t, "admin", "", "push", bad, "--confirm-within", "0")
		for _, want := range []string{bad + ":17:11: ", bad + ":18:9: ", "nothing was pushed"} {
			if !strings.Contains(e, want) {
				t.Errorf("push of an invalid model: stderr lacks %q:\n%s", want, e)
			}
		}
		unchanged("after the CLI refused an invalid model")
	})

	t.Run("InvalidModelAPI", func(t *testing.T) {
		body, _ := json.Marshal(map[string]string{"model": mgModelInvalid, "confirm_within": "0"})
		code, resp := d.api(t, "POST", "/v1/push", token, string(body))
		if code != http.StatusUnprocessableEntity {
			t.Fatalf("POST /v1/push of an invalid model: %d %s; want 422", code, resp)
		}
		e := mgAPIError(t, resp)
		if !strings.Contains(e.Message, "2 error(s)") || !strings.Contains(e.Message, "nothing was changed") {
			t.Errorf("error %q does not count the errors or say nothing changed", e.Message)
		}
		if len(e.Diagnostics) != 2 || !strings.HasPrefix(e.Diagnostics[0], "pushed model:17:11: ") || !strings.HasPrefix(e.Diagnostics[1], "pushed model:18:9: ") ||
			!strings.Contains(e.Diagnostics[0], `"nowhere"`) || !strings.Contains(e.Diagnostics[1], `"elsewhere"`) {
			t.Errorf("diagnostics %q; want FILE:LINE:COLUMN errors at 17:11 (nowhere) and 18:9 (elsewhere)", e.Diagnostics)
		}
		unchanged("after the API refused an invalid model")
	})

	t.Run("MalformedRequests", func(t *testing.T) {
		for _, tc := range []struct {
			method, path, body string
		}{
			{"POST", "/v1/push", `{"model": "version: 1`},
			{"POST", "/v1/push", `["model"]`},
			{"POST", "/v1/push", `{"model": 7}`},
			{"POST", "/v1/push", `{"model": "x", "confirm": true}`},
			{"POST", "/v1/push", fmt.Sprintf(`{"model": %q, "confirm_within": "soon"}`, mgModelOpen)},
			{"POST", "/v1/push", fmt.Sprintf(`{"model": %q, "confirm_within": "-1s"}`, mgModelOpen)},
			{"POST", "/v1/island", `{"on": "yes"}`},
			{"POST", "/v1/rollback", `{"version": "one"}`},
			{"POST", "/v1/login", `not json`},
			{"POST", "/v1/init", `{"user": "root", "password": "x", "uid": 0}`},
			{"POST", "/v1/users", `{"name": "zed", "role": "viewer", "password": `},
			{"POST", "/v1/users", `{"name": "zed", "role": "overlord", "password": "Fresh-Willow-Canyon-73"}`},
			{"POST", "/v1/users/admin/frobnicate", ``},
		} {
			code, resp := d.api(t, tc.method, tc.path, token, tc.body)
			if code != http.StatusBadRequest {
				t.Errorf("%s %s %s: %d %s; want 400", tc.method, tc.path, tc.body, code, resp)
				continue
			}
			mgAPIError(t, resp)
		}
		unchanged("after malformed requests")
	})

	t.Run("UnknownEndpoints", func(t *testing.T) {
		for _, tc := range []struct {
			method, path string
			want         int
		}{
			{"GET", "/", http.StatusNotFound},
			{"GET", "/v1/nope", http.StatusNotFound},
			{"GET", "/v2/status", http.StatusNotFound},
			{"POST", "/v1/push/now", http.StatusNotFound},
			{"GET", "/v1/push", http.StatusMethodNotAllowed},
			{"DELETE", "/v1/status", http.StatusMethodNotAllowed},
		} {
			if code, resp := d.api(t, tc.method, tc.path, token, ""); code != tc.want {
				t.Errorf("%s %s: %d %s; want %d", tc.method, tc.path, code, resp, tc.want)
			}
		}
	})

	t.Run("NoToken", func(t *testing.T) {
		body, _ := json.Marshal(map[string]string{"model": mgModelOpen, "confirm_within": "0"})
		for _, tok := range []string{"", "zgs1_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "not-a-token"} {
			for _, tc := range []struct{ method, path, body string }{
				{"GET", "/v1/status", ""},
				{"GET", "/v1/history", ""},
				{"GET", "/v1/users", ""},
				{"POST", "/v1/push", string(body)},
				{"POST", "/v1/confirm", ""},
				{"POST", "/v1/rollback", `{"version": 0}`},
				{"POST", "/v1/island", `{"on": true}`},
				{"POST", "/v1/logout", ""},
				{"DELETE", "/v1/users/admin", ""},
			} {
				code, resp := d.api(t, tc.method, tc.path, tok, tc.body)
				if code != http.StatusUnauthorized || !strings.Contains(string(resp), "log in") {
					t.Errorf("%s %s with token %q: %d %s; want 401 asking to log in", tc.method, tc.path, tok, code, resp)
				}
			}
		}
		// A third-party HTTP client over the Unix socket.
		curl := prereq.Command(t, "curl", "curl")
		out, err := exec.Command(curl, "-sS", "-o", "/dev/null", "-w", "%{http_code}", "--unix-socket", d.Socket,
			"-X", "POST", "-H", "Content-Type: application/json", "--data", string(body), "http://zonegate/v1/push").CombinedOutput()
		if err != nil || string(out) != "401" {
			t.Errorf("curl POST /v1/push without a token: %v %s; want 401", err, out)
		}
		unchanged("after requests without a valid token")
	})

	d.stop(t)
	mgAuditVerify(t, bin, d.AuditDir())
	recs := mgAuditShow(t, bin, d.AuditDir())
	// The CLI's local check kept its push away from the daemon: exactly one
	// rejection, the direct API call's.
	w := mgWant{Category: "config", Action: "model-rejected", Actor: "admin", Result: "failure", Object: "model", Detail: [2]string{"diff", "pushed model:17:11:"}}
	if n := mgCount(recs, w); n != 1 {
		t.Errorf("%d model-rejected records by admin, want 1:\n%s", n, mgRecords(recs))
	}
	mgNoRecord(t, recs, mgWant{Category: "config", Action: "model-applied", Actor: "admin"})
}
