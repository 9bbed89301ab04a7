package console

import (
	"html"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zonegate/zonegate/firewall"
	"github.com/zonegate/zonegate/gateway/api"
	"github.com/zonegate/zonegate/gateway/audit"
	"github.com/zonegate/zonegate/gateway/changes"
)

func exampleFactory(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("../../configs/example-factory.yaml")
	require.NoError(t, err)
	return string(b)
}

// TestPages: an administrator signs in and every page shows what it is
// for; every answer carries the security headers, the session cookie
// its attributes.
func TestPages(t *testing.T) {
	e := newEnv(t, exampleFactory(t))
	m := e.tx.Running()
	require.NotNil(t, m)
	e.k.SetCounters([]firewall.CounterValue{{Name: "conduit_scada-to-plc", Packets: 1234, Bytes: 56789}})
	e.events.add(api.Event{Kind: "dropped-flow", Count: 3, Source: "198.18.10.5", Destination: "198.18.40.10:502", Zone: "office"})
	e.events.add(api.Event{Kind: "denied", Count: 7, Source: "198.18.30.10", Conduit: "scada-to-plc", Protocol: "modbus", Reason: "address_not_allowed"})

	b := e.browser(remoteA)
	w := b.login("ada", pwAdmin)
	require.Equal(t, http.StatusSeeOther, w.Code, w.Body.String())
	var session *http.Cookie
	for _, c := range w.Result().Cookies() {
		if c.Name == sessionCookie {
			session = c
		}
	}
	require.NotNil(t, session, "a session cookie")
	assert.True(t, session.Secure && session.HttpOnly, "Secure; HttpOnly")
	assert.Equal(t, http.SameSiteStrictMode, session.SameSite)
	assert.Equal(t, "/", session.Path)
	assert.Empty(t, session.Domain, "__Host- cookies have no domain")
	assert.True(t, strings.HasPrefix(session.Name, "__Host-"))

	overview := must200(t, b.get("/overview"), "overview")
	assert.Contains(t, overview, "line3-gw")
	assert.Contains(t, overview, m.Digest())
	assert.Contains(t, overview, "AB:CD:EF", "the certificate's fingerprint")
	assert.Contains(t, overview, `id="no-pending"`)
	assert.Contains(t, overview, `id="island-state">off`)
	assert.Contains(t, overview, `id="audit-fill"`)

	drawing := must200(t, b.get("/drawing"), "drawing")
	for _, z := range m.Zones {
		assert.Contains(t, drawing, `<a href="/conduits?zone=`+z.Name+`"><g class="zone" id="zone-`+z.Name+`">`, "zone %s links to its conduits", z.Name)
	}
	assert.Contains(t, drawing, "1234 packets, 55.5 KiB", "the conduit's counter on its arrow")
	assert.Contains(t, must200(t, b.get("/live/drawing"), "live drawing"), "<svg ")

	conduits := must200(t, b.get("/conduits"), "conduits")
	for _, c := range m.Conduits {
		assert.Contains(t, conduits, `id="conduit-`+c.Name+`"`)
	}
	assert.Contains(t, conduits, "holding registers", "the Modbus policy in words")
	mes := must200(t, b.get("/conduits?zone=mes"), "conduits of mes")
	assert.Contains(t, mes, "office-to-mes")
	assert.NotContains(t, mes, `id="conduit-scada-to-plc"`, "a conduit that does not touch mes")
	assert.Contains(t, mes, "Production management - MES server and historian")

	events := must200(t, b.get("/events"), "events")
	assert.Less(t, strings.Index(events, "address_not_allowed"), strings.Index(events, "198.18.10.5"), "newest first")
	assert.Contains(t, events, `data-since="2"`)

	audits := must200(t, b.get("/audit"), "audit")
	assert.Contains(t, audits, `id="verify-result">intact`)
	assert.Contains(t, audits, "login-success")
	assert.Contains(t, audits, remoteA, "the login's record names the client")

	history := must200(t, b.get("/history"), "history")
	assert.Contains(t, history, `id="version-1"`)
	accounts := must200(t, b.get("/accounts"), "accounts")
	for _, u := range []string{"ada", "otto", "vera"} {
		assert.Contains(t, accounts, `id="user-`+u+`"`)
	}
	assert.Contains(t, accounts, `action="/accounts/add"`)

	for _, path := range []string{"/overview", "/drawing", "/login", "/static/console.css", "/nowhere"} {
		hd := b.get(path).Header()
		assert.Equal(t, contentSecurityPolicy, hd.Get("Content-Security-Policy"), path)
		assert.Contains(t, hd.Get("Content-Security-Policy"), "script-src 'self';", path)
		assert.NotContains(t, hd.Get("Content-Security-Policy"), "unsafe", path)
		assert.Equal(t, "nosniff", hd.Get("X-Content-Type-Options"), path)
		assert.Equal(t, "DENY", hd.Get("X-Frame-Options"), path)
	}
	assert.Equal(t, "no-store", b.get("/overview").Header().Get("Cache-Control"))

	// Without a session every page leads to the login page.
	anon := e.browser(remoteB)
	for _, path := range []string{"/", "/overview", "/drawing", "/events", "/audit", "/accounts"} {
		w := anon.get(path)
		require.Equal(t, http.StatusSeeOther, w.Code, path)
		assert.Contains(t, []string{"/login", "/overview"}, w.Header().Get("Location"), path)
	}
	assert.Equal(t, http.StatusUnauthorized, anon.get("/live/overview").Code)
}

// TestNoInlineScript: no page carries a script or style of its own (the
// policy would block it), nor an event handler attribute.
func TestNoInlineScript(t *testing.T) {
	e := newEnv(t, exampleFactory(t))
	b := e.browser(remoteA)
	b.mustLogin("ada", pwAdmin)
	inline := []string{"<script>", "<style", " style=", "onclick=", "onload=", "javascript:"}
	for _, path := range []string{"/overview", "/drawing", "/conduits", "/events", "/audit", "/history", "/accounts", "/account/password"} {
		body := must200(t, b.get(path), path)
		assert.Contains(t, body, `<script src="/static/console.js" defer></script>`, path)
		for _, s := range inline {
			assert.NotContains(t, body, s, path)
		}
	}
}

// TestHostileModelText: HTML in any model text (zone descriptions and
// owners, asset and conduit descriptions, the push comment, the gateway
// name's own characters) reaches the pages as text.
func TestHostileModelText(t *testing.T) {
	e := newEnv(t, hostileModel)
	_, err := e.tx.Push(t.Context(), changesActor("erin"), []byte(strings.Replace(hostileModel, "tcp/443", "tcp/444", 1)),
		`<img src=x onerror=alert(1)> "comment" & <b>bold</b>`, 0)
	require.NoError(t, err)
	b := e.browser(remoteA)
	b.mustLogin("ada", pwAdmin)
	for _, path := range []string{"/overview", "/drawing", "/live/drawing", "/conduits", "/conduits?zone=ops", "/conduits?zone=<script>", "/history", "/history?from=1&to=2", "/audit"} {
		body := must200(t, b.get(path), path)
		for _, raw := range []string{"<script>alert", "<img src=x", "<b>bold", `<em>"all`, "</text></svg> <!--"} {
			assert.NotContains(t, body, raw, path)
		}
	}
	conduits := b.get("/conduits?zone=ops").Body.String()
	assert.Contains(t, conduits, "Ops &#34;zone&#34; &lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; co | pipes")
	assert.Contains(t, conduits, "R&amp;D &lt;ops@example.invalid&gt;")
	assert.Contains(t, conduits, "Reads | writes &lt;em&gt;&#34;all&#34;&lt;/em&gt;")
	assert.Contains(t, b.get("/history").Body.String(), "&lt;img src=x onerror=alert(1)&gt; &#34;comment&#34; &amp; &lt;b&gt;bold&lt;/b&gt;")
	assert.Contains(t, b.get("/drawing").Body.String(), "Cell &lt;/text&gt;&lt;/svg&gt;")
	assert.Contains(t, b.get("/conduits?zone=<script>").Body.String(), "no zone &lt;script&gt;")
}

// TestHistoryDiff: the difference between two kept versions, as push
// shows it.
func TestHistoryDiff(t *testing.T) {
	model := exampleFactory(t)
	e := newEnv(t, model)
	next := strings.Replace(model, "services: [tcp/3389]", "services: [tcp/3389, tcp/22]", 1)
	_, err := e.tx.Push(t.Context(), changesActor("erin"), []byte(next), "ssh for the vendor", 0)
	require.NoError(t, err)
	b := e.browser(remoteA)
	b.mustLogin("vera", pwViewer)
	body := must200(t, b.get("/history"), "history")
	assert.Contains(t, body, "From version 1 to version 2", "the last two by default")
	assert.Contains(t, body, "~ conduit vendor-to-eng: services: [tcp/3389] -&gt; [tcp/22, tcp/3389]")
	back := must200(t, b.get("/history?from=2&to=1"), "reverse")
	assert.Contains(t, back, "[tcp/22, tcp/3389] -&gt; [tcp/3389]")
	same := must200(t, b.get("/history?from=1&to=1"), "same")
	assert.Contains(t, same, "no change")
	missing := must200(t, b.get("/history?from=1&to=9"), "missing")
	assert.Contains(t, missing, "model version 9 is not kept")
	assert.NotContains(t, body, "Go back to", "a viewer gets no buttons")
}

// TestAuditPageFilterAndPaging: newest first, a page at a time, by
// category and actor, with the verification and the last checkpoint.
func TestAuditPageFilterAndPaging(t *testing.T) {
	e := newEnv(t, exampleFactory(t))
	for i := 0; i < 130; i++ {
		e.rec.RecordBestEffort(audit.Record{Actor: "bot", Category: audit.CategoryService, Action: audit.ActionServiceStart, Object: "zonegate", Result: audit.ResultSuccess})
	}
	b := e.browser(remoteA)
	b.mustLogin("ada", pwAdmin)
	require.NoError(t, e.rec.Log().Flush(t.Context()))

	all := e.records(audit.Filter{})
	newest := all[len(all)-1].Seq
	first := must200(t, b.get("/audit"), "audit")
	seqs := seqsOf(first)
	require.Len(t, seqs, auditPageSize)
	assert.Equal(t, newest, seqs[0], "the newest record first")
	assert.Equal(t, newest-auditPageSize+1, seqs[len(seqs)-1])
	older := olderLink(t, first)
	second := seqsOf(must200(t, b.get(older), "older"))
	require.Len(t, second, auditPageSize)
	assert.Equal(t, seqs[len(seqs)-1]-1, second[0], "the next page goes on where the first ended")

	accounts := must200(t, b.get("/audit?category=account"), "accounts only")
	for _, s := range seqsOf(accounts) {
		assert.Equal(t, audit.CategoryAccount, entryOf(all, s).Category)
	}
	assert.NotEmpty(t, seqsOf(accounts))
	assert.NotContains(t, accounts, `id="older"`, "all account records fit on one page")
	bots := seqsOf(must200(t, b.get("/audit?actor=bot&category=service"), "bot"))
	assert.Len(t, bots, auditPageSize)
	for _, s := range bots {
		assert.Equal(t, "bot", entryOf(all, s).Actor)
	}
	assert.Empty(t, seqsOf(must200(t, b.get("/audit?actor=nobody"), "nobody")))
	assert.Contains(t, must200(t, b.get("/audit?category=<bogus>"), "bogus category"), "login-success", "an unknown category shows all")
	assert.Contains(t, first, `id="checkpoint"`, "the last signed checkpoint")
}

// TestAuditVerificationShowsDamage: a flipped byte in the log is shown.
func TestAuditVerificationShowsDamage(t *testing.T) {
	e := newEnv(t, exampleFactory(t))
	b := e.browser(remoteA)
	b.mustLogin("ada", pwAdmin)
	require.NoError(t, e.rec.Log().Flush(t.Context()))
	seg := e.auditDir + "/audit-00000001.log"
	data, err := os.ReadFile(seg)
	require.NoError(t, err)
	i := strings.Index(string(data), `"actor":"erin"`)
	require.Positive(t, i)
	data[i+10] = 'X'
	require.NoError(t, os.WriteFile(seg, data, 0o600))
	e.clk.Advance(verifyAge)
	body := must200(t, b.get("/audit"), "audit")
	assert.Contains(t, body, `id="verify-result">NOT INTACT`)
}

// hostileModel carries HTML and markup in every free text of the model.
const hostileModel = `version: 1
gateway:
  name: hostile-gw
  management:
    zones: [ops]
zones:
  - name: ops
    description: |
      Ops "zone" <script>alert('x')</script> & co | pipes
    importance: medium
    owner: "R&D <ops@example.invalid>"
    interfaces: [eth0]
    networks: [198.18.1.0/24]
  - name: cell
    description: 'Cell </text></svg> <!-- x --> ]]> &amp;'
    importance: high
    interfaces: [eth1]
    networks: [198.18.2.0/24]
assets:
  - name: plc-9
    description: "PLC <b>bold</b>"
    zone: cell
    address: 198.18.2.9
conduits:
  - name: ops-to-cell
    description: "Reads | writes <em>\"all\"</em> & more"
    from: ops
    to: cell
    services: [tcp/502]
    inspect: modbus
    modbus:
      allow:
        - read: holding_registers
          addresses: 0-99
  - name: ops-web
    from: ops
    to: cell
    services: [tcp/443]
`

// seqsOf lists the sequence numbers of an audit page, in page order.
func seqsOf(body string) []uint64 {
	var out []uint64
	for _, m := range seqRE.FindAllStringSubmatch(body, -1) {
		n, _ := strconv.ParseUint(m[1], 10, 64)
		out = append(out, n)
	}
	return out
}

var seqRE = regexp.MustCompile(`<tr>\n<td class="num">(\d+)</td>`)

func olderLink(t *testing.T, body string) string {
	t.Helper()
	m := regexp.MustCompile(`id="older" href="([^"]+)"`).FindStringSubmatch(body)
	require.NotNil(t, m, "a link to older records")
	return html.UnescapeString(m[1])
}

func entryOf(all []audit.Entry, seq uint64) audit.Entry {
	for _, e := range all {
		if e.Seq == seq {
			return e
		}
	}
	return audit.Entry{}
}

func changesActor(user string) changes.Actor { return changes.Actor{User: user} }
