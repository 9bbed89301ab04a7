package e2e

// Helpers of the management-plane end-to-end tests (mgmt_*_test.go):
// `zonegate serve` running in a lab's gateway namespace with its own state
// directory, socket and settings file, the CLI against it (one session file
// per user), direct HTTP calls over the Unix socket, the audit log and real
// traffic through the lab. Every name starts with "mg" so that these files
// stay out of the way of the other e2e helpers.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/zonegate/zonegate/test/prereq"

	"github.com/zonegate/zonegate/gateway/api"
	"github.com/zonegate/zonegate/test/lab"
)

// The test models: two zones, "ops" manages the gateway. mgModelBase lets
// ops reach cell on tcp/7001 only; mgModelOpen adds tcp/7000 and ping. Port
// 7001 is the control flow that shows the lab forwards at all; 7000 is the
// flow a push opens or a rollback closes.
const mgModelBase = `version: 1
gateway:
  name: mgmt-gw
  management:
    zones: [ops]
zones:
  - name: ops
    importance: medium
    interfaces: [eth0]
    networks: [198.18.11.0/24, "fd00:11::/64"]
  - name: cell
    importance: high
    interfaces: [eth1]
    networks: [198.18.12.0/24, "fd00:12::/64"]
conduits:
  - name: ops-to-cell
    from: ops
    to: cell
    services: [tcp/7001]
`

var mgModelOpen = strings.Replace(mgModelBase, "services: [tcp/7001]", "services: [tcp/7000, tcp/7001, icmp/echo-request]", 1)

// mgModelInvalid has two errors the loader places at FILE:LINE:COLUMN:
// unknown zones in the conduit's from (17:11) and to (18:9).
const mgModelInvalid = `version: 1
gateway:
  name: mgmt-gw
  management:
    zones: [ops]
zones:
  - name: ops
    importance: medium
    interfaces: [eth0]
    networks: [198.18.11.0/24]
  - name: cell
    importance: high
    interfaces: [eth1]
    networks: [198.18.12.0/24]
conduits:
  - name: ops-to-cell
    from: nowhere
    to: elsewhere
    services: [tcp/7000]
`

// Passwords that satisfy the default policy for the users below.
const (
	mgAdminPW    = "Quartz-Meadow-Lantern-81"
	mgEngineerPW = "Copper-Falcon-Harbor-27"
	mgOperatorPW = "Velvet-Comet-Tundra-64"
	mgViewerPW   = "Maple-Orbit-Glacier-39"
)

// mgRequire skips unless the test can build namespaces, use nftables in
// them and build zonegate.
func mgRequire(t *testing.T) {
	t.Helper()
	requireNetns(t)
	prereq.Go(t)
	prereq.Command(t, "nft", "nftables")
}

// mgBuild builds cmd/zonegate (once per test run).
func mgBuild(t *testing.T) string { return buildCmd(t, "zonegate") }

// mgTempDir is a temporary directory with a short path (Unix socket paths
// are limited to 107 bytes), removed when the test ends.
func mgTempDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "zgmg")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// mgNamespace creates a bare gateway namespace PREFIX-gw (no lab around
// it) for daemons that need nftables but no traffic; removed at the end.
func mgNamespace(t *testing.T, prefix string) string {
	t.Helper()
	_ = lab.DownPrefix(prefix)
	ns := lab.GatewayNS(prefix)
	if out, err := exec.Command("ip", "netns", "add", ns).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add %s: %v: %s", ns, err, out)
	}
	t.Cleanup(func() {
		if err := lab.DownPrefix(prefix); err != nil {
			t.Errorf("remove namespace %s: %v", ns, err)
		}
	})
	return ns
}

// mgSyncBuffer collects the daemon's log.
type mgSyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *mgSyncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *mgSyncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// mgDaemon is `zonegate serve` in a namespace with its own state
// directory, socket, settings file and model file.
type mgDaemon struct {
	bin, ns  string
	Dir      string // everything of this daemon lives below
	State    string // --state-dir
	Socket   string // --socket
	Config   string // --config
	Model    string // --model ("" for none)
	sessions string

	cmd  *exec.Cmd
	log  *mgSyncBuffer
	done chan struct{}
}

// mgNewDaemon prepares a daemon: settings is the settings file's text,
// model the model file's text ("": no --model). Start it with start.
func mgNewDaemon(t *testing.T, bin, ns, settings, model string) *mgDaemon {
	t.Helper()
	dir := mgTempDir(t)
	d := &mgDaemon{bin: bin, ns: ns, Dir: dir, State: filepath.Join(dir, "state"), Socket: filepath.Join(dir, "api.sock"),
		Config: filepath.Join(dir, "zonegate.yaml"), sessions: filepath.Join(dir, "sessions")}
	mgWrite(t, d.Config, settings)
	if model != "" {
		d.Model = filepath.Join(dir, "model.yaml")
		mgWrite(t, d.Model, model)
	}
	if err := os.MkdirAll(d.sessions, 0o700); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.stop(t) })
	return d
}

// mgStartDaemon prepares and starts a daemon and waits until its API answers.
func mgStartDaemon(t *testing.T, bin, ns, settings, model string) *mgDaemon {
	t.Helper()
	d := mgNewDaemon(t, bin, ns, settings, model)
	d.start(t)
	return d
}

func mgWrite(t *testing.T, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
}

// start runs zonegate serve and waits until the API answers (it starts
// after the boot sequence: fail close, pending rollback, model applied).
func (d *mgDaemon) start(t *testing.T) {
	t.Helper()
	args := []string{"serve", "--config", d.Config, "--state-dir", d.State, "--socket", d.Socket}
	if d.Model != "" {
		args = append(args, "--model", d.Model)
	}
	d.log = &mgSyncBuffer{}
	d.done = make(chan struct{})
	d.cmd = lab.Command(d.ns, d.bin, args...)
	d.cmd.Stdout, d.cmd.Stderr = d.log, d.log
	if err := d.cmd.Start(); err != nil {
		t.Fatalf("start zonegate serve: %v", err)
	}
	done := d.done
	go func() {
		_ = d.cmd.Wait()
		close(done)
	}()
	c := api.NewClient(d.Socket)
	defer c.Close()
	deadline := time.Now().Add(60 * time.Second)
	for {
		select {
		case <-done:
			t.Fatalf("zonegate serve ended before its API answered (%v):\n%s", d.cmd.ProcessState, d.log)
		default:
		}
		var ae *api.Error
		if _, err := c.Status(context.Background()); errors.As(err, &ae) && ae.Status == http.StatusUnauthorized {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the API of zonegate serve does not answer on %s after 60s:\n%s", d.Socket, d.log)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// running reports whether the daemon process is still alive.
func (d *mgDaemon) running() bool {
	if d.done == nil {
		return false
	}
	select {
	case <-d.done:
		return false
	default:
		return true
	}
}

// stop ends the daemon with SIGTERM (it is killed after 20s).
func (d *mgDaemon) stop(t *testing.T) {
	t.Helper()
	if !d.running() {
		return
	}
	_ = d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.done:
	case <-time.After(20 * time.Second):
		t.Errorf("zonegate serve did not stop within 20s of SIGTERM; killing it\n%s", d.log)
		_ = d.cmd.Process.Kill()
		<-d.done
	}
	if st := d.cmd.ProcessState; st != nil && !st.Success() {
		t.Errorf("zonegate serve ended with %v after SIGTERM:\n%s", st, d.log)
	}
}

// pid is the daemon's process id (`ip netns exec` executes zonegate in
// its own process).
func (d *mgDaemon) pid() int { return d.cmd.Process.Pid }

// AuditDir is the daemon's audit log.
func (d *mgDaemon) AuditDir() string { return filepath.Join(d.State, "audit") }

// sessionFile is where the CLI keeps the session of user.
func (d *mgDaemon) sessionFile(user string) string { return filepath.Join(d.sessions, user+".json") }

// cli runs a zonegate client command as user (their own session file)
// with stdin, and returns stdout, stderr and the exit code.
func (d *mgDaemon) cli(t *testing.T, user, stdin string, args ...string) (string, string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, d.bin, args...)
	cmd.Env = append(os.Environ(), "ZONEGATE_SOCKET="+d.Socket, "ZONEGATE_SESSION="+d.sessionFile(user))
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			t.Fatalf("zonegate %s: %v", strings.Join(args, " "), err)
		}
		code = ee.ExitCode()
	}
	return stdout.String(), stderr.String(), code
}

// mustCLI runs a client command that must succeed.
func (d *mgDaemon) mustCLI(t *testing.T, user, stdin string, args ...string) string {
	t.Helper()
	out, errOut, code := d.cli(t, user, stdin, args...)
	if code != 0 {
		t.Fatalf("zonegate %s (as %s): exit %d\nstdout: %s\nstderr: %s\ndaemon log:\n%s", strings.Join(args, " "), user, code, out, errOut, mgTail(d.log.String(), 30))
	}
	return out
}

// failCLI runs a client command that must fail with exit 1 and returns
// its stderr.
func (d *mgDaemon) failCLI(t *testing.T, user, stdin string, args ...string) string {
	t.Helper()
	out, errOut, code := d.cli(t, user, stdin, args...)
	if code != 1 {
		t.Fatalf("zonegate %s (as %s): exit %d, want 1 (refused)\nstdout: %s\nstderr: %s", strings.Join(args, " "), user, code, out, errOut)
	}
	return errOut
}

// initAdmin creates the first administrator "admin" and logs in.
func (d *mgDaemon) initAdmin(t *testing.T) {
	t.Helper()
	d.mustCLI(t, "admin", mgAdminPW+"\n", "user", "init", "admin")
	d.login(t, "admin", mgAdminPW)
}

// addUser creates a user with a role (as admin) and logs the user in.
func (d *mgDaemon) addUser(t *testing.T, name, role, pw string) {
	t.Helper()
	d.mustCLI(t, "admin", pw+"\n", "user", "add", name, "--role", role)
	d.login(t, name, pw)
}

func (d *mgDaemon) login(t *testing.T, user, pw string) {
	t.Helper()
	d.mustCLI(t, user, pw+"\n", "login", user)
}

// token is the session token the CLI keeps for user.
func (d *mgDaemon) token(t *testing.T, user string) string {
	t.Helper()
	b, err := os.ReadFile(d.sessionFile(user))
	if err != nil {
		t.Fatalf("session of %s: %v", user, err)
	}
	var s struct {
		Token string `json:"token"`
	}
	if err := json.Unmarshal(b, &s); err != nil || s.Token == "" {
		t.Fatalf("session file of %s holds no token: %v %s", user, err, b)
	}
	return s.Token
}

// api sends one HTTP request over the socket (token "" sends none) and
// returns the status and body; status 0 when the socket does not answer.
// The body is raw so that tests can send what no client would.
func (d *mgDaemon) api(t *testing.T, method, path, token, body string) (int, []byte) {
	t.Helper()
	c := api.NewClient(d.Socket)
	defer c.Close()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, "http://zonegate"+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return 0, nil
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// mgAPIError decodes an error answer of the API.
func mgAPIError(t *testing.T, body []byte) api.Error {
	t.Helper()
	var e api.Error
	if err := json.Unmarshal(body, &e); err != nil || e.Message == "" {
		t.Errorf("the answer is no JSON error of the API: %v %s", err, body)
	}
	return e
}

// status is `zonegate status --json` as user.
func (d *mgDaemon) status(t *testing.T, user string) api.Status {
	t.Helper()
	out := d.mustCLI(t, user, "", "status", "--json")
	var st api.Status
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatalf("status --json: %v\n%s", err, out)
	}
	return st
}

// waitStatus polls the status until ok says yes (timeout against hangs).
func (d *mgDaemon) waitStatus(t *testing.T, user, what string, timeout time.Duration, ok func(api.Status) bool) api.Status {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		st := d.status(t, user)
		if ok(st) {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not seen within %s; last status %+v\ndaemon log:\n%s", what, timeout, st, mgTail(d.log.String(), 30))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// mgVersion is one row of `zonegate history`.
type mgVersion struct {
	Number int
	State  string
	User   string
}

// history parses the table `zonegate history` prints.
func (d *mgDaemon) history(t *testing.T, user string) []mgVersion {
	t.Helper()
	out := d.mustCLI(t, user, "", "history")
	var vs []mgVersion
	for i, line := range strings.Split(strings.TrimSpace(out), "\n") {
		f := strings.Fields(line)
		if i == 0 {
			if len(f) == 0 || f[0] != "VERSION" {
				t.Fatalf("history has no heading:\n%s", out)
			}
			continue
		}
		if len(f) < 5 {
			t.Fatalf("history row %q is short:\n%s", line, out)
		}
		n, err := strconv.Atoi(f[0])
		if err != nil {
			t.Fatalf("history row %q: %v", line, err)
		}
		// VERSION STATE DATE TIME USER DIGEST [COMMENT]
		vs = append(vs, mgVersion{Number: n, State: f[1], User: f[4]})
	}
	return vs
}

// historyStates renders the history as "1:running 2:rolled-back".
func mgHistoryStates(vs []mgVersion) string {
	parts := make([]string, len(vs))
	for i, v := range vs {
		parts[i] = fmt.Sprintf("%d:%s", v.Number, v.State)
	}
	return strings.Join(parts, " ")
}

// mgRecord is one audit record of `zonegate audit show --json`.
type mgRecord struct {
	Seq      uint64            `json:"seq"`
	Time     time.Time         `json:"time"`
	Actor    string            `json:"actor"`
	Category string            `json:"category"`
	Action   string            `json:"action"`
	Object   string            `json:"object"`
	Result   string            `json:"result"`
	Details  map[string]string `json:"details"`
}

func (r mgRecord) String() string {
	return fmt.Sprintf("#%d %s/%s by %s on %s: %s %v", r.Seq, r.Category, r.Action, r.Actor, r.Object, r.Result, r.Details)
}

// mgAuditShow parses `zonegate audit show DIR --json`.
func mgAuditShow(t *testing.T, bin, dir string) []mgRecord {
	t.Helper()
	out, errOut, code := labExec(t, bin, "audit", "show", dir, "--json")
	if code != 0 {
		t.Fatalf("zonegate audit show %s --json: exit %d\n%s", dir, code, errOut)
	}
	var recs []mgRecord
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var r mgRecord
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("audit show --json printed a line that is no record: %v\n%s", err, sc.Text())
		}
		recs = append(recs, r)
	}
	if len(recs) == 0 {
		t.Fatalf("audit show --json printed no records")
	}
	return recs
}

// mgAuditVerify runs `zonegate audit verify DIR`, which must say INTACT.
func mgAuditVerify(t *testing.T, bin, dir string) {
	t.Helper()
	out, errOut, code := labExec(t, bin, "audit", "verify", dir)
	if code != 0 || !strings.Contains(out, "result: INTACT") {
		t.Errorf("zonegate audit verify %s: exit %d, want 0 and INTACT\n%s%s", dir, code, out, errOut)
	}
}

// mgWant describes an audit record that must be in the log.
type mgWant struct {
	Category, Action, Actor, Result string
	Object                          string // "" matches any
	Detail                          [2]string
}

func (w mgWant) match(r mgRecord) bool {
	return r.Category == w.Category && r.Action == w.Action && r.Actor == w.Actor && r.Result == w.Result &&
		(w.Object == "" || r.Object == w.Object) && (w.Detail[0] == "" || strings.Contains(r.Details[w.Detail[0]], w.Detail[1]))
}

// mgAuditExpect checks that every wanted record is in recs, in this
// order (other records may come between), and returns the records found.
func mgAuditExpect(t *testing.T, recs []mgRecord, wants ...mgWant) []mgRecord {
	t.Helper()
	var found []mgRecord
	i := 0
	for _, w := range wants {
		j := i
		for j < len(recs) && !w.match(recs[j]) {
			j++
		}
		if j == len(recs) {
			t.Errorf("audit log lacks (after record #%d) %+v; the log:\n%s", mgSeqAt(recs, i), w, mgRecords(recs))
			return found
		}
		found = append(found, recs[j])
		i = j + 1
	}
	return found
}

func mgSeqAt(recs []mgRecord, i int) uint64 {
	if i == 0 || i > len(recs) {
		return 0
	}
	return recs[i-1].Seq
}

func mgRecords(recs []mgRecord) string {
	var b strings.Builder
	for _, r := range recs {
		fmt.Fprintln(&b, "  "+r.String())
	}
	return b.String()
}

// mgCount counts the records matching w.
func mgCount(recs []mgRecord, w mgWant) int {
	n := 0
	for _, r := range recs {
		if w.match(r) {
			n++
		}
	}
	return n
}

// mgRuleset is table inet zonegate as nft lists it, without counter
// values, or "" when there is none.
func mgRuleset(t *testing.T, ns string) string {
	t.Helper()
	out, err := lab.Command(ns, "nft", "-s", "list", "table", "inet", "zonegate").CombinedOutput()
	if err != nil {
		if strings.Contains(string(out), "No such file or directory") {
			return ""
		}
		t.Fatalf("nft list table inet zonegate in %s: %v\n%s", ns, err, out)
	}
	return string(out)
}

// mgNft runs nft in a namespace and fails the test on error.
func mgNft(t *testing.T, ns string, args ...string) {
	t.Helper()
	if out, err := lab.Command(ns, "nft", args...).CombinedOutput(); err != nil {
		t.Fatalf("nft %s in %s: %v\n%s", strings.Join(args, " "), ns, err, out)
	}
}

// mgTraffic runs echo servers on a zone host and probes them from another
// zone's host through the gateway.
type mgTraffic struct {
	l        *lab.Lab
	from, to string
}

// mgServe starts TCP echo servers on the host of zone "to" on the ports
// and returns a prober from the host of zone "from".
func mgServe(t *testing.T, l *lab.Lab, from, to string, ports ...int) mgTraffic {
	t.Helper()
	dst, ok := l.Zones[to].Addr(4)
	if !ok {
		t.Fatalf("zone %s has no IPv4 host", to)
	}
	for _, p := range ports {
		ln, err := lab.Listen(l.Zones[to].NS, "tcp", netip.AddrPortFrom(dst, uint16(p)).String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ln.Close() })
		go echoServer(ln)
	}
	return mgTraffic{l: l, from: from, to: to}
}

// passes reports whether a new TCP connection from zone host to zone host
// on port carries a line both ways, giving up after timeout.
func (tr mgTraffic) passes(port int, timeout time.Duration) bool {
	dst, _ := tr.l.Zones[tr.to].Addr(4)
	c, err := lab.Dial(tr.l.Zones[tr.from].NS, "tcp", netip.AddrPortFrom(dst, uint16(port)).String(), timeout)
	if err != nil {
		return false
	}
	defer c.Close()
	return echoes(c, "through the gateway")
}

// mgWait is how long a probe waits for an answer: long when the flow
// should pass (a loaded machine must not fail the test), short when it
// should be dropped (every probe of a dropped flow waits this long).
func mgWait(expectPass bool) time.Duration {
	if expectPass {
		return 5 * time.Second
	}
	return time.Second
}

// mgPing reports whether one ping from namespace ns to addr is answered
// within timeout (whole seconds).
func mgPing(ns string, addr netip.Addr, timeout time.Duration) bool {
	return lab.Command(ns, "ping", "-n", "-q", "-c", "1", "-W", strconv.Itoa(int(timeout/time.Second)), addr.String()).Run() == nil
}

// mgGatewayAddr is the gateway's IPv4 address in a zone.
func mgGatewayAddr(t *testing.T, l *lab.Lab, zoneName string) netip.Addr {
	t.Helper()
	for _, a := range l.GatewayAddrs[zoneName] {
		if a.Is4() {
			return a
		}
	}
	t.Fatalf("the gateway has no IPv4 address in zone %s", zoneName)
	return netip.Addr{}
}

// mgVmHWM reads a process's peak resident set size in KiB.
func mgVmHWM(t *testing.T, pid int) int {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			f := strings.Fields(v)
			if len(f) == 2 && f[1] == "kB" {
				n, err := strconv.Atoi(f[0])
				if err == nil {
					return n
				}
			}
		}
	}
	t.Fatalf("no VmHWM in /proc/%d/status", pid)
	return 0
}

// mgExitCode is a finished command's exit code (-1 when it did not run
// to an exit).
func mgExitCode(err error) int {
	if err == nil {
		return 0
	}
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode()
	}
	return -1
}

// mgTail returns the last n lines of s.
func mgTail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// mgSettings is a settings file: a short drift check plus extra lines.
func mgSettings(extra ...string) string {
	return "firewall:\n  drift_check: 200ms\n" + strings.Join(extra, "\n") + "\n"
}
