package browser

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zonegate/zonegate/gateway/console"
	"github.com/zonegate/zonegate/test/prereq"
)

// TestConsoleInBrowser uses the web console of the example factory's
// gateway as an engineer at the cabinet does: in Chromium, from the
// maintenance zone, over the lab's real network. Every page is checked
// for console errors, failed requests and CSP violations, and saved as a
// screenshot.
func TestConsoleInBrowser(t *testing.T) {
	prereq.Netns(t)
	prereq.Command(t, "chromium", "chromium")
	g := startGateway(t)
	b := g.newBrowser(t, g.mgmt.NS)
	admin := b.newTab(t)

	if !t.Run("login and overview", func(t *testing.T) {
		admin.t = t
		admin.login(adminUser, adminPW)
		admin.do(chromedp.WaitVisible(chromedp.ID("fingerprint")))
		assert.Equal(t, "/overview", admin.location())
		assert.Equal(t, console.Fingerprint(g.cert), admin.text("#fingerprint"), "the overview names the certificate the browser got")
		assert.Equal(t, "line3-gw", admin.text("#gateway-name"))
		assert.Equal(t, g.model.Digest(), admin.text("#model-digest"))
		assert.Equal(t, "off", admin.text("#island-state"))
		admin.screenshot("overview")
		admin.noProblems("overview")
	}) {
		return // every other step needs the signed-in browser
	}

	t.Run("a denied Modbus request appears in the events", func(t *testing.T) {
		admin.t = t
		admin.open("/events", "#event-rows")
		before := admin.count("#event-rows tr.kind-denied")
		assert.Equal(t, byte(2), g.deniedModbusWrite(), "exception 02: address not allowed")
		// The page follows the events by itself: no reload.
		admin.waitFor(fmt.Sprintf(`document.querySelectorAll("#event-rows tr.kind-denied").length > %d`, before), time.Minute)
		row := admin.text("#event-rows tr.kind-denied")
		assert.Contains(t, row, "scada-to-plc")
		assert.Contains(t, row, "198.18.30.10")
		assert.Contains(t, row, "address")
		assert.Zero(t, g.plc.Writes(), "the PLC saw no write")
		admin.screenshot("events")
		admin.noProblems("events")
	})

	t.Run("drawing shows every zone", func(t *testing.T) {
		admin.t = t
		admin.open("/drawing", "#drawing svg")
		for _, z := range g.model.Zones {
			assert.Equal(t, 1, admin.count(fmt.Sprintf(`#drawing svg a g#zone-%s`, z.Name)), "zone %s in the drawing, as a link", z.Name)
		}
		assert.Equal(t, len(g.model.Conduits), admin.count(`#drawing svg path.conduit`))
		admin.screenshot("drawing")
		// A zone leads to its conduits.
		admin.follow(`#drawing svg a g#zone-control`)
		assert.Equal(t, "/conduits?zone=control", admin.location())
		assert.Contains(t, admin.text("#zone-facts"), "PLCs driving line 3")
		assert.Equal(t, 1, admin.count("#conduit-scada-to-plc"))
		assert.Equal(t, 0, admin.count("#conduit-office-to-mes"))
		admin.noProblems("drawing")
	})

	t.Run("conduits with their policy in words", func(t *testing.T) {
		admin.t = t
		admin.open("/conduits", "#conduits")
		assert.Equal(t, len(g.model.Conduits), admin.count("#conduits tbody tr"))
		assert.Contains(t, admin.text("#conduit-scada-to-plc"), "holding registers")
		admin.screenshot("conduits")
		admin.noProblems("conduits")
	})

	t.Run("audit log, history, accounts", func(t *testing.T) {
		admin.t = t
		admin.open("/audit", "#verification")
		assert.Equal(t, "intact", admin.text("#verify-result"))
		assert.Contains(t, admin.text("#audit-records"), "login-success")
		admin.screenshot("audit")
		admin.do(chromedp.SetValue(chromedp.CSS(`#audit-filter select[name=category]`), "account"))
		admin.follow(`#audit-filter button`)
		assert.Contains(t, admin.location(), "category=account")
		assert.NotContains(t, admin.text("#audit-records"), "model-applied")
		admin.open("/history", "#versions")
		admin.screenshot("history")
		admin.open("/accounts", "#accounts")
		for _, u := range []string{adminUser, operatorUser, viewerUser, lockUser} {
			assert.Equal(t, 1, admin.count("#user-"+u), u)
		}
		admin.screenshot("accounts")
		admin.open("/account/password", "#password-form")
		admin.screenshot("password")
		admin.noProblems("audit log, history, accounts, password")
	})

	t.Run("confirm a pushed change before its deadline", func(t *testing.T) {
		admin.t = t
		v := g.push(1, 10*time.Minute).Version
		admin.open("/overview", "#countdown")
		admin.screenshot("overview-pending")
		first := admin.text("#countdown")
		admin.waitFor(fmt.Sprintf(`document.querySelector("#countdown").textContent !== %q`, first), time.Minute)
		admin.follow("#confirm-pending")
		assert.Contains(t, admin.text("h1"), fmt.Sprintf("Confirm model version %d?", v))
		assert.Contains(t, admin.text("#effects"), "automatic rollback")
		admin.screenshot("confirm")
		admin.follow("#confirm-button")
		assert.Equal(t, "/overview", admin.location())
		assert.Contains(t, admin.text("#flash"), fmt.Sprintf("Model version %d is confirmed", v))
		assert.Equal(t, 0, admin.count("#countdown"), "the countdown is gone")
		assert.Equal(t, 1, admin.count("#no-pending"))
		admin.noProblems("confirm")
	})

	t.Run("another one rolls back at its deadline", func(t *testing.T) {
		admin.t = t
		v := g.push(2, 8*time.Second).Version
		admin.open("/overview", "#countdown")
		// The page counts down and refreshes itself: no reload.
		admin.waitFor(`document.querySelector("#no-pending") !== null`, 2*time.Minute)
		assert.Equal(t, 0, admin.count("#countdown"))
		admin.open("/history", "#versions")
		assert.Equal(t, "rolled-back", admin.text(fmt.Sprintf("#version-%d td.state-rolled-back", v)))
		admin.noProblems("rollback")
	})

	t.Run("model text is shown as text", func(t *testing.T) {
		admin.t = t
		hostile := strings.Replace(g.modelText, "description: PLCs driving line 3",
			`description: "PLCs <script>alert('zone')</script><img src=x onerror=alert('img')> & co"`, 1)
		hostile = strings.Replace(hostile, "description: SCADA reads SIS status, never writes",
			`description: "<b onmouseover=alert(1)>SIS</b> reads"`, 1)
		g.pushText(hostile, `<script>alert("comment")</script>`)
		admin.open("/conduits?zone=control", "#zone-facts")
		assert.Contains(t, admin.text("#zone-facts"), `PLCs <script>alert('zone')</script><img src=x onerror=alert('img')> & co`)
		assert.Equal(t, 0, admin.count("#zone-facts script, #zone-facts img, #conduits b"))
		admin.open("/drawing", "#drawing svg")
		assert.Equal(t, 0, admin.count("#drawing script, #drawing img"))
		admin.open("/history", "#versions")
		assert.Contains(t, admin.text("#versions"), `<script>alert("comment")</script>`)
		admin.noProblems("hostile model text") // an alert would be a dialog
		g.pushText(g.modelText, "back to the example factory")
	})

	t.Run("the pages work with JavaScript off", func(t *testing.T) {
		tb := b.newTab(t)
		_, err := chromedp.Call(tb.ctx, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true})
		require.NoError(t, err)
		tb.login(viewerUser, viewerPW)
		tb.do(chromedp.WaitVisible(chromedp.ID("fingerprint")))
		assert.Equal(t, "line3-gw", tb.text("#gateway-name"))
		assert.Contains(t, tb.text("main"), "reload to see the latest", "the hint for a page that cannot refresh itself")
		tb.open("/drawing", "#drawing svg")
		for _, z := range g.model.Zones {
			assert.Equal(t, 1, tb.count("#drawing svg g#zone-"+z.Name), z.Name)
		}
		tb.open("/events", "#event-rows")
		assert.Positive(t, tb.count("#event-rows tr.kind-denied"), "the denied write is listed")
		tb.open("/audit", "#verification")
		assert.Equal(t, "intact", tb.text("#verify-result"))
		tb.open("/history", "#versions")
		tb.open("/conduits", "#conduits")
		tb.open("/accounts", "#accounts")
		tb.screenshot("accounts-no-javascript")
		tb.noProblems("JavaScript off")
	})

	t.Run("a viewer cannot act", func(t *testing.T) {
		viewer := b.newTab(t)
		v := g.push(3, 10*time.Minute).Version
		viewer.login(viewerUser, viewerPW)
		viewer.do(chromedp.WaitVisible(chromedp.ID("countdown")))
		for _, sel := range []string{"#confirm-pending", "#rollback-pending", "#island-on", "#island-off", "form[action^='/action']"} {
			assert.Equal(t, 0, viewer.count(sel), "the viewer sees %s", sel)
		}
		viewer.open("/accounts", "#accounts")
		assert.Equal(t, 0, viewer.count("#add-account, form[action^='/accounts/']"))
		viewer.screenshot("viewer-accounts")
		// The form sent anyway, with the viewer's own token: refused.
		viewer.expect("403 /action/confirm")
		status, err := chromedp.Run(viewer.ctx, chromedp.Evaluate[int](fmt.Sprintf(`(async () => {
			const token = document.querySelector('input[name=csrf]').value;
			const body = new URLSearchParams({csrf: token, version: '%d', confirmed: 'yes'});
			const r = await fetch('/action/confirm', {method: 'POST', body: body});
			return r.status;
		})()`, v), chromedp.EvalAwaitPromise))
		require.NoError(t, err)
		assert.Equal(t, 403, status)
		st, err := g.api.Status(t.Context())
		require.NoError(t, err)
		require.NotNil(t, st.Pending, "nothing was confirmed")
		assert.Equal(t, v, st.Pending.Version)
		viewer.noProblems("viewer")
		_, err = g.api.Rollback(t.Context(), 0)
		require.NoError(t, err)
	})

	t.Run("a wrong password locks the account", func(t *testing.T) {
		tb := b.newTab(t)
		tb.expect("401 /login", "403 /login")
		for i := range lockoutFailures {
			tb.login(lockUser, "Not-The-Password-42")
			tb.do(chromedp.WaitVisible(chromedp.ID("login-message")))
			assert.Contains(t, tb.text("#login-message"), "wrong user name or password", i)
		}
		tb.login(lockUser, lockPW)
		tb.do(chromedp.WaitVisible(chromedp.ID("login-message")))
		assert.Contains(t, tb.text("#login-message"), "locked after too many failed logins")
		assert.Equal(t, "/login", tb.location())
		tb.screenshot("locked")
		tb.noProblems("lockout")
		users, err := g.api.Users(t.Context())
		require.NoError(t, err)
		for _, u := range users {
			if u.Name == lockUser {
				assert.True(t, u.Locked)
			}
		}
	})

	t.Run("a cookie from another address is refused", func(t *testing.T) {
		owner := b.newTab(t)
		// The owner's overview refreshes itself every 3 s: a refresh
		// between the theft and the owner's next page is answered 401
		// (the session is over), and the page then reloads to the login.
		owner.expect("401 /live/overview")
		owner.login(operatorUser, operatorPW)
		owner.do(chromedp.WaitVisible(chromedp.ID("fingerprint")))
		stolen := owner.cookie()
		assert.True(t, stolen.HTTPOnly && stolen.Secure, "HttpOnly; Secure")
		assert.Equal(t, "Strict", string(stolen.SameSite))
		// A second browser at the engineering workstation (another
		// address of the same zone) with the cookie.
		thiefBrowser := g.newBrowser(t, g.lab.Assets["eng-ws"].NS)
		thief := thiefBrowser.newTab(t)
		thief.setCookie(stolen)
		thief.open("/overview", "#login-form")
		assert.Equal(t, "/login?why=moved", thief.location())
		assert.Contains(t, thief.text("#login-message"), "used from another address")
		// The session is over for its owner too.
		owner.open("/overview", "#login-form")
		thief.noProblems("stolen cookie")
		owner.noProblems("stolen cookie, owner")
	})

	t.Run("sign out", func(t *testing.T) {
		admin.t = t
		admin.open("/overview", "#sign-out")
		admin.follow("#sign-out")
		assert.Contains(t, admin.text("#login-message"), "signed out")
		admin.open("/overview", "#login-form")
		admin.noProblems("sign out")
	})
}
