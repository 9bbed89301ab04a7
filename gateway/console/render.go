package console

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"path"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/zonegate/zonegate/gateway/audit"
	"github.com/zonegate/zonegate/gateway/auth"
	"github.com/zonegate/zonegate/gateway/changes"
	"github.com/zonegate/zonegate/gateway/zone/zonedoc"
)

//go:embed templates/*.html
var templateFiles embed.FS

//go:embed assets
var assetFiles embed.FS

// contentSecurityPolicy lets a page load scripts, styles and images from
// the console only (no inline script or style attribute, no eval), talk
// to the console only, send forms to the console only, and be framed by
// nobody.
const contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; " +
	"form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// secure adds the security headers to every answer. Pages are not kept
// in any cache; assets are revalidated by their ETag. The referrer goes
// to the console itself only: with no referrer at all, browsers send
// "Origin: null" with a form, and the forms' origin check could not tell
// the console's own pages from a sandboxed stranger.
func secure(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("Content-Security-Policy", contentSecurityPolicy)
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("X-Frame-Options", "DENY")
		hd.Set("Referrer-Policy", "same-origin")
		hd.Set("Cross-Origin-Opener-Policy", "same-origin")
		hd.Set("Cross-Origin-Resource-Policy", "same-origin")
		hd.Set("Strict-Transport-Security", "max-age=31536000")
		hd.Set("Cache-Control", "no-store")
		h.ServeHTTP(w, r)
	})
}

// asset is an embedded file with its type and ETag.
type asset struct {
	data []byte
	kind string
	etag string
}

// assets are the files below assets/, by name: a request names one of
// them or gets 404, so no path leads anywhere else.
var assets = func() map[string]asset {
	kinds := map[string]string{".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8", ".svg": "image/svg+xml"}
	out := map[string]asset{}
	entries, err := fs.ReadDir(assetFiles, "assets")
	if err != nil {
		panic(err)
	}
	for _, e := range entries {
		data, err := assetFiles.ReadFile("assets/" + e.Name())
		if err != nil {
			panic(err)
		}
		sum := sha256.Sum256(data)
		out[e.Name()] = asset{data: data, kind: kinds[path.Ext(e.Name())], etag: `"` + hex.EncodeToString(sum[:8]) + `"`}
	}
	return out
}()

func serveAsset(w http.ResponseWriter, r *http.Request) {
	a, ok := assets[r.PathValue("name")]
	if !ok || a.kind == "" {
		http.NotFound(w, r)
		return
	}
	hd := w.Header()
	hd.Set("Content-Type", a.kind)
	hd.Set("Cache-Control", "no-cache")
	hd.Set("ETag", a.etag)
	if r.Header.Get("If-None-Match") == a.etag {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	_, _ = w.Write(a.data)
}

// serveFavicon answers the browsers that ask for /favicon.ico anyway.
func serveFavicon(w http.ResponseWriter, r *http.Request) {
	r.SetPathValue("name", "favicon.svg")
	serveAsset(w, r)
}

// templates are the pages, each the layout with its own content.
type templates struct {
	pages map[string]*template.Template
}

var funcs = template.FuncMap{
	"utc":   func(t time.Time) string { return utcText(t) },
	"bytes": sizeText,
	"count": countText,
	"dur":   durText,
	"join":  strings.Join,
	"nav": func(current, path, text string) navLink {
		return navLink{Path: path, Text: text, Current: current == path}
	},
}

// navLink is one link of the navigation.
type navLink struct {
	Path, Text string
	Current    bool
}

// sizeText is a byte count in words ("3.4 MiB"); negative counts are 0.
func sizeText(n any) string {
	switch v := n.(type) {
	case int64:
		return zonedoc.ByteSize(uint64(max(v, 0)))
	case uint64:
		return zonedoc.ByteSize(v)
	}
	return fmt.Sprint(n)
}

func utcText(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return t.UTC().Format("2006-01-02 15:04:05 UTC")
}

// countText writes a count with thin groups: 1 234 567.
func countText(n uint64) string {
	s := strconv.FormatUint(n, 10)
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteRune('\u202f')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// durText is a duration in words a countdown shows: "1h 02m 05s", "45s".
func durText(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	s := int64(d.Round(time.Second) / time.Second)
	switch {
	case s >= 3600:
		return fmt.Sprintf("%dh %02dm %02ds", s/3600, s/60%60, s%60)
	case s >= 60:
		return fmt.Sprintf("%dm %02ds", s/60, s%60)
	}
	return fmt.Sprintf("%ds", s)
}

// pageNames are the templates/*.html that are pages; the others are
// shared parts.
var pageNames = []string{"login", "overview", "drawing", "conduits", "events", "audit", "history", "accounts", "password", "confirm", "error"}

func parseTemplates() (*templates, error) {
	base, err := template.New("base").Funcs(funcs).ParseFS(templateFiles, "templates/layout.html", "templates/parts.html")
	if err != nil {
		return nil, fmt.Errorf("console templates: %w", err)
	}
	t := &templates{pages: map[string]*template.Template{}}
	for _, name := range pageNames {
		p, err := template.Must(base.Clone()).ParseFS(templateFiles, "templates/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("console template %s: %w", name, err)
		}
		t.pages[name] = p
	}
	return t, nil
}

// layout is what every page shows around its content.
type layout struct {
	Title   string
	Nav     string // the path of the page in the navigation
	User    string
	Role    string
	CSRF    string
	Flash   string
	Gateway string
	// May: what the session may do; pages show buttons for these only.
	May  may
	Body any
}

// may is what a session may do, for the buttons a page shows.
type may struct {
	Act   bool // confirm, roll back, island mode (operator and above)
	Admin bool // accounts (admin)
	Audit bool // events and audit log
}

func mayOf(s auth.Session) may {
	return may{Act: s.Can(auth.PermConfirm), Admin: s.Can(auth.PermManageUsers), Audit: s.Can(auth.PermViewAudit)}
}

// page renders one page for a session with status 200.
func (c *Console) page(rq *request, name, title string, body any) error {
	return c.pageStatus(rq, http.StatusOK, name, title, body)
}

func (c *Console) pageStatus(rq *request, status int, name, title string, body any) error {
	l := layout{Title: title, Nav: rq.r.URL.Path, User: rq.sess.User, Role: rq.sess.Role.String(), CSRF: rq.csrf,
		Flash: c.sessions.takeFlash(rq.cs), May: mayOf(rq.sess), Body: body}
	if m := c.cfg.Changes.Running(); m != nil {
		l.Gateway = m.Gateway.Name
	}
	return c.write(rq.w, status, name, "layout", l)
}

// write executes a template into a buffer first, so that a template
// error never leaves half a page.
func (c *Console) write(w http.ResponseWriter, status int, page, tmpl string, data any) error {
	var b bytes.Buffer
	if err := c.pages.pages[page].ExecuteTemplate(&b, tmpl, data); err != nil {
		c.log.Error("console template failed", zap.String("page", page), zap.Error(err))
		http.Error(w, "the console could not render this page; see the daemon log", http.StatusInternalServerError)
		return nil
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(b.Bytes())
	return nil
}

// fragment renders a part of a page for its live refresh.
func (c *Console) fragment(rq *request, page, tmpl string, data any) error {
	return c.write(rq.w, http.StatusOK, page, tmpl, data)
}

// errorPage answers with a page that says what went wrong.
func (c *Console) errorPage(rq *request, status int, msg string) {
	_ = c.pageStatus(rq, status, "error", http.StatusText(status), errorBody{Status: status, Message: msg})
}

type errorBody struct {
	Status  int
	Message string
}

// fail answers a failed page or action with the error's message (the
// errors of the transactions and accounts say what to do) and a status
// that fits it.
func (c *Console) fail(rq *request, err error) {
	c.errorPage(rq, statusOf(err), err.Error())
}

// errBadRequest marks a form that asks for something impossible.
var errBadRequest = errors.New("bad request")

func statusOf(err error) int {
	var me *changes.ModelError
	switch {
	case errors.Is(err, auth.ErrForbidden), errors.Is(err, auth.ErrMustChangePassword), errors.Is(err, auth.ErrLocked), errors.Is(err, auth.ErrDisabled):
		return http.StatusForbidden
	case errors.Is(err, auth.ErrNoUser), errors.Is(err, changes.ErrNoModel):
		return http.StatusNotFound
	case errors.Is(err, changes.ErrPending), errors.Is(err, changes.ErrNothingPending), errors.Is(err, changes.ErrNoPrevious),
		errors.Is(err, auth.ErrUserExists), errors.Is(err, auth.ErrLastAdmin):
		return http.StatusConflict
	case errors.Is(err, errBadRequest), errors.Is(err, auth.ErrWeakPassword), errors.Is(err, auth.ErrInvalidUsername), errors.Is(err, auth.ErrInvalidRole):
		return http.StatusBadRequest
	case errors.As(err, &me):
		return http.StatusUnprocessableEntity
	case errors.Is(err, auth.ErrBusy), errors.Is(err, auth.ErrAudit), errors.Is(err, audit.ErrFull), errors.Is(err, audit.ErrUnavailable):
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}
