package console

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"time"

	"github.com/zonegate/zonegate/firewall"
	"github.com/zonegate/zonegate/gateway/api"
	"github.com/zonegate/zonegate/gateway/auth"
	"github.com/zonegate/zonegate/gateway/zone"
	"github.com/zonegate/zonegate/gateway/zone/zonedoc"
)

// --- login -------------------------------------------------------------

type loginBody struct {
	Token   string // the login form's CSRF token
	User    string
	Message string // why the user is here, or why the login failed
	Error   bool
}

// loginPage shows the login form; a signed-in browser goes to the
// overview. The form's CSRF token derives from a random cookie of its
// own (the browser has no session yet).
func (c *Console) loginPage(w http.ResponseWriter, r *http.Request) {
	if rq, _ := c.authenticate(w, r, false); rq != nil {
		http.Redirect(w, r, pageOverview, http.StatusSeeOther)
		return
	}
	c.loginForm(w, r, http.StatusOK, loginBody{Message: loginMessages[noSession(r.URL.Query().Get("why"))]})
}

func (c *Console) loginForm(w http.ResponseWriter, r *http.Request, status int, body loginBody) {
	pre := ""
	if ck, err := r.Cookie(loginCookie); err == nil && len(ck.Value) == 43 {
		pre = ck.Value
	} else {
		var b [32]byte
		_, _ = rand.Read(b[:])
		pre = base64.RawURLEncoding.EncodeToString(b[:])
		setCookie(w, loginCookie, pre, time.Hour)
	}
	body.Token = c.sessions.mac("login", pre)
	_ = c.write(w, status, "login", "layout", layout{Title: "Sign in", Nav: "/login", Body: body})
}

// login checks the form's token and the credentials (auth: argon2id,
// lockout, the audit records with the client's address) and starts a
// session bound to the client's address.
func (c *Console) login(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxForm)
	if err := r.ParseForm(); err != nil {
		badForm(w, err)
		return
	}
	user := r.PostForm.Get("user")
	ck, err := r.Cookie(loginCookie)
	if err != nil || !validToken(r.PostForm.Get("csrf"), c.sessions.mac("login", ck.Value)) || !sameOrigin(r) {
		c.cfg.Recorder.Unauthenticated(r.RemoteAddr, route(r), "login form without its token")
		c.loginForm(w, r, http.StatusForbidden, loginBody{User: user, Error: true,
			Message: "The sign-in form was not sent from this console's own page, or it is too old: try again."})
		return
	}
	ctx := auth.WithRemote(r.Context(), r.RemoteAddr)
	token, expires, err := c.cfg.Accounts.Login(ctx, user, r.PostForm.Get("password"), r.RemoteAddr)
	if err != nil {
		status := statusOf(err)
		if errors.Is(err, auth.ErrBadCredentials) {
			status = http.StatusUnauthorized
		}
		c.loginForm(w, r, status, loginBody{User: user, Error: true, Message: err.Error()})
		return
	}
	now := c.now()
	c.sessions.add(token, hostOf(r), now, expires)
	setCookie(w, sessionCookie, token, expires.Sub(now))
	clearCookie(w, loginCookie)
	http.Redirect(w, r, pageOverview, http.StatusSeeOther)
}

// --- overview ----------------------------------------------------------

type overviewBody struct {
	Status      api.Status
	Err         string // the status could not be read in full
	Pending     *pendingView
	Fingerprint string
	Conduits    int
	Zones       int
	Dropped     uint64 // packets dropped by default since the ruleset was applied
}

type pendingView struct {
	api.Pending
	Remaining time.Duration
	Seconds   int64
	Comment   string
}

func (c *Console) overviewBody() overviewBody {
	st, err := c.cfg.Status()
	b := overviewBody{Status: st, Fingerprint: c.cfg.Fingerprint}
	if err != nil {
		b.Err = err.Error()
	}
	if p := st.Pending; p != nil {
		left := p.Deadline.Sub(c.now())
		b.Pending = &pendingView{Pending: *p, Remaining: left, Seconds: int64(max(left, 0) / time.Second)}
		if vs, err := c.cfg.Changes.History(); err == nil {
			for _, v := range vs {
				if v.Number == p.Version {
					b.Pending.Comment = v.Comment
				}
			}
		}
	}
	if m := c.cfg.Changes.Running(); m != nil {
		b.Zones, b.Conduits = len(m.Zones), len(m.Conduits)
	}
	for _, cv := range st.Counters {
		if len(cv.Name) >= 8 && cv.Name[:8] == "dropped_" {
			b.Dropped += cv.Packets
		}
	}
	return b
}

func (c *Console) overview(rq *request) error {
	return c.page(rq, "overview", "Overview", c.overviewBody())
}

func (c *Console) liveOverview(rq *request) error {
	return c.fragment(rq, "overview", "overview-live", layout{May: mayOf(rq.sess), CSRF: rq.csrf, Body: c.overviewBody()})
}

// --- drawing -----------------------------------------------------------

type drawingBody struct {
	Version int
	Digest  string
	SVG     template.HTML
	Err     string
}

// drawingBody is the running model drawn as `zonegate diagram` draws it,
// with each conduit's counter, its zones linked to their conduits.
func (c *Console) drawingBody() drawingBody {
	m := c.cfg.Changes.Running()
	if m == nil {
		return drawingBody{Err: "No model runs: the gateway is in island mode (see the overview)."}
	}
	st, err := c.cfg.Status()
	b := drawingBody{Version: st.Version, Digest: m.Digest()}
	if err != nil {
		b.Err = "The counters could not be read: " + err.Error()
	}
	opt := zonedoc.DiagramOptions{Counters: ConduitCounters(m, st.Counters), ZoneLink: func(z string) string {
		return "/conduits?zone=" + url.QueryEscape(z)
	}}
	// zonedoc escapes every model text for XML, which HTML's parser of
	// inline SVG reads the same way.
	b.SVG = template.HTML(zonedoc.SVGElement(m, opt)) // #nosec G203 -- escaped by zonedoc
	return b
}

// ConduitCounters picks the conduits' named counters (conduit_NAME) from
// the status, for the live drawing (here and `zonegate status --diagram`).
func ConduitCounters(m *zone.Model, cs []api.Counter) map[string]zonedoc.Counter {
	byName := make(map[string]api.Counter, len(cs))
	for _, cv := range cs {
		byName[cv.Name] = cv
	}
	out := map[string]zonedoc.Counter{}
	for _, cd := range m.Conduits {
		if cv, ok := byName[firewall.ConduitCounter(cd.Name)]; ok {
			out[cd.Name] = zonedoc.Counter{Packets: cv.Packets, Bytes: cv.Bytes}
		}
	}
	return out
}

func (c *Console) drawing(rq *request) error {
	return c.page(rq, "drawing", "Zones and conduits", c.drawingBody())
}

func (c *Console) liveDrawing(rq *request) error {
	return c.fragment(rq, "drawing", "drawing-live", c.drawingBody())
}

// --- conduits ----------------------------------------------------------

type conduitsBody struct {
	Zone     *zone.Zone // the zone the list is narrowed to, if any
	Mgmt     bool       // that zone manages the gateway
	Rows     []conduitRow
	Unknown  string // a zone asked for that the model does not have
	NoModel  bool
	Counters bool
}

type conduitRow struct {
	zonedoc.ConduitText
	Packets, Bytes   uint64
	Allowed, Denied  uint64 // inspected requests
	HasCounter, Seen bool
}

func (c *Console) conduits(rq *request) error {
	m := c.cfg.Changes.Running()
	if m == nil {
		return c.page(rq, "conduits", "Conduits", conduitsBody{NoModel: true})
	}
	st, _ := c.cfg.Status()
	counters := ConduitCounters(m, st.Counters)
	b := conduitsBody{}
	if name := rq.r.URL.Query().Get("zone"); name != "" {
		if z := m.Zone(name); z != nil {
			b.Zone, b.Mgmt = z, m.IsManagementZone(z.Name)
		} else {
			b.Unknown = name
		}
	}
	for _, ct := range zonedoc.Conduits(m) {
		if b.Zone != nil && ct.From != b.Zone.Name && ct.To != b.Zone.Name {
			continue
		}
		row := conduitRow{ConduitText: ct}
		if cv, ok := counters[ct.Name]; ok {
			row.Packets, row.Bytes, row.HasCounter = cv.Packets, cv.Bytes, true
		}
		for _, mc := range st.Modbus {
			if mc.Conduit != ct.Name {
				continue
			}
			row.Seen = true
			if mc.Verdict == "denied" {
				row.Denied += mc.Count
			} else {
				row.Allowed += mc.Count
			}
		}
		b.Rows = append(b.Rows, row)
	}
	title := "Conduits"
	if b.Zone != nil {
		title = "Conduits of zone " + b.Zone.Name
	}
	return c.page(rq, "conduits", title, b)
}

// --- events ------------------------------------------------------------

type eventsBody struct {
	Rows     []api.Event // newest first
	Last     uint64
	Interval string
	Err      string
}

// liveWait is how long a page's refresh of the events waits for one.
const liveWait = 25 * time.Second

func newestFirst(evs []api.Event) []api.Event {
	out := slices.Clone(evs)
	slices.Reverse(out)
	return out
}

func (c *Console) events(rq *request) error {
	res, err := c.cfg.Events.Events(rq.r.Context(), 0, 0)
	b := eventsBody{Rows: newestFirst(res.Events), Last: res.Last, Interval: res.Interval}
	if err != nil {
		b.Err = err.Error()
	}
	return c.page(rq, "events", "Events", b)
}

// liveEvents answers the events page's refresh: the rows newer than
// since, newest first, after waiting up to liveWait for one; the newest
// sequence number in the X-Events-Last header.
func (c *Console) liveEvents(rq *request) error {
	since, err := strconv.ParseUint(rq.r.URL.Query().Get("since"), 10, 64)
	if err != nil {
		http.Error(rq.w, "since must be the sequence number of the newest event shown", http.StatusBadRequest)
		return nil
	}
	res, err := c.cfg.Events.Events(rq.r.Context(), since, liveWait)
	if err != nil {
		return err
	}
	rq.w.Header().Set("X-Events-Last", strconv.FormatUint(max(res.Last, since), 10))
	return c.fragment(rq, "events", "event-rows", newestFirst(res.Events))
}

// --- history -----------------------------------------------------------

type historyBody struct {
	Versions []zone.ModelVersion // newest first
	Running  int
	Pending  bool
	From, To int
	Diff     []string
	DiffErr  string
}

func (c *Console) history(rq *request) error {
	vs, err := c.cfg.Changes.History()
	if err != nil {
		return err
	}
	slices.Reverse(vs)
	st, _ := c.cfg.Status()
	b := historyBody{Versions: vs, Running: st.Version, Pending: st.Pending != nil}
	q := rq.r.URL.Query()
	b.From, b.To = atoiOr(q.Get("from"), 0), atoiOr(q.Get("to"), 0)
	if b.From == 0 && b.To == 0 && len(vs) >= 2 {
		b.From, b.To = vs[1].Number, vs[0].Number
	}
	if b.From != 0 || b.To != 0 {
		b.Diff, err = c.diff(b.From, b.To)
		if err != nil {
			b.DiffErr = err.Error()
		}
	}
	return c.page(rq, "history", "Model history", b)
}

// diff lists what changes from version a to version b, as `zonegate push`
// shows it.
func (c *Console) diff(a, b int) ([]string, error) {
	ma, err := c.loadVersion(a)
	if err != nil {
		return nil, err
	}
	mb, err := c.loadVersion(b)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, ch := range zone.Diff(ma, mb) {
		out = append(out, ch.String())
	}
	if len(out) == 0 {
		out = []string{"no change: both versions describe the same model"}
	}
	return out, nil
}

func (c *Console) loadVersion(n int) (*zone.Model, error) {
	text, err := c.cfg.Changes.VersionText(n)
	if err != nil {
		return nil, err
	}
	return zone.Load("model version "+strconv.Itoa(n), text)
}

func atoiOr(s string, def int) int {
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return def
	}
	return n
}

// --- accounts ----------------------------------------------------------

type accountsBody struct {
	Users     []auth.User
	Roles     []string
	MinLength int
	Now       time.Time
}

// accounts lists every account for an administrator, and one's own to
// everybody else (as the API's GET /v1/users).
func (c *Console) accounts(rq *request) error {
	actor := rq.sess.Actor()
	var us []auth.User
	var err error
	if rq.sess.Can(auth.PermManageUsers) {
		us, err = c.cfg.Accounts.Users(actor)
	} else {
		var u auth.User
		u, err = c.cfg.Accounts.User(actor, rq.sess.User)
		us = []auth.User{u}
	}
	if err != nil {
		return err
	}
	b := accountsBody{Users: us, MinLength: c.cfg.Accounts.Policy().MinLength, Now: c.now()}
	for _, r := range auth.Roles() {
		b.Roles = append(b.Roles, r.String())
	}
	return c.page(rq, "accounts", "Accounts", b)
}

type passwordBody struct {
	MinLength  int
	MustChange bool
}

func (c *Console) passwordPage(rq *request) error {
	return c.page(rq, "password", "Change your password", passwordBody{MinLength: c.cfg.Accounts.Policy().MinLength, MustChange: rq.sess.MustChangePassword})
}
