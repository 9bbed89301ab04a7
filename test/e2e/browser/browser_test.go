package browser

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/zonegate/zonegate/test/prereq"
)

// A browser is Debian's chromium, headless, started inside a lab host's
// network namespace (ip netns exec), driven over its DevTools pipe. It
// trusts the console's self-signed certificate by its public key
// (--ignore-certificate-errors-spki-list) and nothing else.
type browser struct {
	t     *testing.T
	g     *gateway
	alloc context.Context // the browser process
	root  context.Context // its first tab
	out   *syncBuffer     // the browser's own output
}

// tab is one tab of a browser in a browser context of its own (its own
// cookies), recording what a user would see go wrong: console errors,
// uncaught exceptions, failed requests and error answers, CSP violations,
// and dialogs (an alert would mean a script from model text ran).
type tab struct {
	t   *testing.T
	ctx context.Context
	b   *browser

	mu       sync.Mutex
	problems []string
	expected map[string]bool // "STATUS PATH" answers the test provokes on purpose
}

// newBrowser starts chromium in namespace ns.
func (g *gateway) newBrowser(t *testing.T, ns string) *browser {
	t.Helper()
	chromium := prereq.Command(t, "chromium", "chromium")
	ip := prereq.Command(t, "ip", "iproute2")
	leaf, err := x509.ParseCertificate(g.cert)
	require.NoError(t, err)
	spki := sha256.Sum256(leaf.RawSubjectPublicKeyInfo)
	b := &browser{t: t, g: g, out: &syncBuffer{}}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium),
		chromedp.NoSandbox, // as root
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("ignore-certificate-errors-spki-list", base64.StdEncoding.EncodeToString(spki[:])),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1440, 1000),
		chromedp.CombinedOutput(b.out),
		chromedp.ModifyCmdFunc(func(cmd *exec.Cmd) {
			// ip netns exec NS chromium ...: the browser's sockets are the
			// namespace's; the DevTools pipes (fds 3 and 4) pass through.
			cmd.Path = ip
			cmd.Args = append([]string{"ip", "netns", "exec", ns, chromium}, cmd.Args[1:]...)
			cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		}),
	)
	var cancelAlloc, cancelRoot context.CancelFunc
	b.alloc, cancelAlloc = chromedp.NewExecAllocator(context.Background(), opts...)
	b.root, cancelRoot = chromedp.NewContext(b.alloc)
	require.NoError(t, chromedp.Do(b.root), "start chromium in %s; its output:\n%s", ns, b.out.String())
	t.Cleanup(func() {
		cancelRoot()
		cancelAlloc()
		if t.Failed() {
			t.Logf("chromium's output:\n%s", b.out.String())
		}
	})
	return b
}

// newTab opens a tab in a browser context of its own.
func (b *browser) newTab(t *testing.T) *tab {
	t.Helper()
	tb := &tab{t: t, b: b, expected: map[string]bool{}}
	ctx, cancel := chromedp.NewContext(b.root, chromedp.WithNewBrowserContext(), chromedp.WithListener(tb.listen))
	t.Cleanup(cancel)
	tb.ctx = ctx
	require.NoError(t, chromedp.Do(ctx))
	return tb
}

// listen runs in the tab's event loop: it only records.
func (tb *tab) listen(ev any) {
	var p string
	switch ev := ev.(type) {
	case *runtime.EventConsoleAPICalled:
		if ev.Type == runtime.ConsoleAPICalledTypeError || ev.Type == runtime.ConsoleAPICalledTypeWarning || ev.Type == runtime.ConsoleAPICalledTypeAssert {
			var args []string
			for _, a := range ev.Args {
				args = append(args, fmt.Sprint(string(a.Value), a.Description))
			}
			p = fmt.Sprintf("console.%s: %s", ev.Type, strings.Join(args, " "))
		}
	case *runtime.EventExceptionThrown:
		p = "uncaught exception: " + ev.ExceptionDetails.Text
		if ev.ExceptionDetails.Exception != nil {
			p += " " + ev.ExceptionDetails.Exception.Description
		}
	case *log.EventEntryAdded:
		if ev.Entry.Level == log.EntryLevelError || ev.Entry.Level == log.EntryLevelWarning {
			p = fmt.Sprintf("browser log %s (%s): %s %s", ev.Entry.Level, ev.Entry.Source, ev.Entry.Text, ev.Entry.URL)
		}
	case *network.EventLoadingFailed:
		if !ev.Canceled {
			p = fmt.Sprintf("request failed: %s %s", ev.ErrorText, ev.BlockedReason)
		}
	case *network.EventResponseReceived:
		if r := ev.Response; r != nil && r.Status >= 400 {
			key := fmt.Sprintf("%d %s", r.Status, pathOf(r.URL))
			tb.mu.Lock()
			ok := tb.expected[key]
			tb.mu.Unlock()
			if !ok {
				p = "error answer: " + key
			}
		}
	case *page.EventJavascriptDialogOpening:
		p = "a dialog opened: " + ev.Message
	}
	if p != "" {
		tb.mu.Lock()
		tb.problems = append(tb.problems, p)
		tb.mu.Unlock()
	}
}

func pathOf(u string) string {
	if i := strings.Index(u, "://"); i >= 0 {
		u = u[i+3:]
		if j := strings.IndexByte(u, '/'); j >= 0 {
			return u[j:]
		}
	}
	return u
}

// expect lets the tab see an error answer the test provokes
// ("403 /action/confirm"); the browser logs such answers too.
func (tb *tab) expect(answers ...string) {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	for _, a := range answers {
		tb.expected[a] = true
	}
}

// takeProblems returns what went wrong so far, leaving out the browser
// log's "Failed to load resource" lines of expected answers.
func (tb *tab) takeProblems() []string {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	var out []string
	for _, p := range tb.problems {
		if strings.Contains(p, "Failed to load resource: the server responded with a status of") && tb.expectedURL(p) {
			continue
		}
		out = append(out, p)
	}
	tb.problems = nil
	return out
}

func (tb *tab) expectedURL(p string) bool {
	for a := range tb.expected {
		status, path, _ := strings.Cut(a, " ")
		if strings.Contains(p, "status of "+status) && strings.HasSuffix(strings.TrimSpace(p), path) {
			return true
		}
	}
	return false
}

// noProblems fails the test with whatever went wrong in the tab so far.
func (tb *tab) noProblems(where string) {
	tb.t.Helper()
	if ps := tb.takeProblems(); len(ps) > 0 {
		tb.t.Errorf("%s: the browser saw:\n  %s", where, strings.Join(ps, "\n  "))
	}
}

// do runs actions in the tab, with a bound that keeps a hung browser from
// hanging the suite.
func (tb *tab) do(actions ...chromedp.Action[chromedp.Void]) {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		tb.t.Fatalf("%v\n%s", err, tb.describe())
	}
}

// describe says where the tab is and what it shows, for a failure.
func (tb *tab) describe() string {
	ctx, cancel := context.WithTimeout(tb.ctx, 5*time.Second)
	defer cancel()
	u, _ := chromedp.Run(ctx, chromedp.Location())
	body, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText.slice(0, 2000) : ""`))
	return fmt.Sprintf("the tab is at %s and shows:\n%s\nwhat it saw go wrong: %v", u, body, tb.takeProblems())
}

// open navigates to a console page and waits for the page's own mark.
func (tb *tab) open(path, ready string) {
	tb.t.Helper()
	tb.do(chromedp.Navigate(tb.b.g.url(path)), chromedp.WaitVisible(chromedp.CSS(ready)))
}

// follow clicks an element that leads to another page (a link, a form's
// button) and waits until that page has loaded.
func (tb *tab) follow(sel string) {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, 30*time.Second)
	defer cancel()
	if _, err := chromedp.Run(ctx, chromedp.WaitEvent(page.LoadEventFired, nil, chromedp.Click(chromedp.CSS(sel)))); err != nil {
		tb.t.Fatalf("follow %s: %v\n%s", sel, err, tb.describe())
	}
}

// text is the text of the first element that matches a CSS selector.
func (tb *tab) text(sel string) string {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, 30*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
	require.NoError(tb.t, err, sel)
	return s
}

// count is how many elements match a CSS selector.
func (tb *tab) count(sel string) int {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, 30*time.Second)
	defer cancel()
	n, err := chromedp.Run(ctx, chromedp.Evaluate[int](fmt.Sprintf("document.querySelectorAll(%q).length", sel)))
	require.NoError(tb.t, err, sel)
	return n
}

// location is the tab's address, without the console's origin.
func (tb *tab) location() string {
	tb.t.Helper()
	u, err := chromedp.Run(tb.ctx, chromedp.Location())
	require.NoError(tb.t, err)
	return pathOf(u)
}

// waitFor waits until a JavaScript expression is true.
func (tb *tab) waitFor(expr string, within time.Duration) {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, within)
	defer cancel()
	_, err := chromedp.Run(ctx, chromedp.Poll[bool](expr, chromedp.WithPollingInterval(200*time.Millisecond)))
	require.NoError(tb.t, err, "waiting for %s", expr)
}

// login signs in through the form.
func (tb *tab) login(user, pw string) {
	tb.t.Helper()
	tb.do(chromedp.Navigate(tb.b.g.url("/login")), chromedp.WaitVisible(chromedp.ID("login-form")),
		chromedp.SendKeys(chromedp.ID("user"), user), chromedp.SendKeys(chromedp.ID("password"), pw))
	tb.follow("#sign-in")
}

// screenshot saves the whole page as a test artefact, ARTEFACTS/NAME.png.
func (tb *tab) screenshot(name string) []byte {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, 60*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	require.NoError(tb.t, err)
	dir := artefacts(tb.t)
	require.NoError(tb.t, os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644))
	return png
}

// artefacts is where the screenshots go: $BROWSER_ARTEFACTS, else
// artefacts/ beside this file (ignored by git).
func artefacts(t *testing.T) string {
	dir := os.Getenv("BROWSER_ARTEFACTS")
	if dir == "" {
		dir = "artefacts"
	}
	require.NoError(t, os.MkdirAll(dir, 0o755))
	return dir
}

// cookie is the tab's session cookie.
func (tb *tab) cookie() *network.Cookie {
	tb.t.Helper()
	res, err := chromedp.Call(tb.ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{tb.b.g.url("/")}})
	require.NoError(tb.t, err)
	for _, c := range res.Cookies {
		if c.Name == "__Host-zonegate" {
			return c
		}
	}
	tb.t.Fatal("no session cookie in the browser")
	return nil
}

// setCookie gives the tab a session cookie.
func (tb *tab) setCookie(c *network.Cookie) {
	tb.t.Helper()
	yes := true
	_, err := chromedp.Call(tb.ctx, network.SetCookie, network.SetCookieParams{Name: c.Name, Value: c.Value, URL: tb.b.g.url("/"),
		Path: "/", Secure: &yes, HTTPOnly: &yes, SameSite: network.CookieSameSiteStrict})
	require.NoError(tb.t, err)
}
