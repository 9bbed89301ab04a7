package e2e

// Helpers of the Modbus end-to-end tests (modbus_*_test.go): the zonegate
// daemon in a lab's gateway namespace, fake PLCs (pymodbus in a process,
// simonvetter/modbus in this process) in asset namespaces, and clients
// (mbpoll, a pymodbus script, raw frames from Go) in source namespaces.
// Every name starts with "mb" so that these files stay out of the way of the
// other e2e helpers.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
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

	mbserver "github.com/simonvetter/modbus"

	"github.com/zonegate/zonegate/test/lab"
)

// mbPython is Debian's interpreter, which has python3-pymodbus; the python3
// first on PATH may be another one without it.
const mbPython = prereq.Python

// mbRequire skips the test unless it runs as root with namespaces and
// nftables, and mbpoll and pymodbus are installed.
func mbRequire(t *testing.T) {
	t.Helper()
	requireNetns(t)
	prereq.Command(t, "mbpoll", "mbpoll")
	// What testdata/modbus_plc.py and modbus_client.py import; pymodbus's
	// server and client need python3-serial and python3-serial-asyncio,
	// which python3-pymodbus only recommends.
	prereq.PythonModules(t, "python3-serial", "serial")
	prereq.PythonModules(t, "python3-serial-asyncio", "serial_asyncio")
	prereq.PythonModules(t, "python3-pymodbus", "pymodbus.server.async_io", "pymodbus.client", "pymodbus.mei_message", "pymodbus.datastore")
	prereq.Go(t)
}

// mbBuildZonegate builds cmd/zonegate (once per test run).
func mbBuildZonegate(t *testing.T) string { return buildCmd(t, "zonegate") }

// mbWriteFile writes a file into the test's temporary directory.
func mbWriteFile(t *testing.T, dir, name, text string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// mbLog collects the JSON lines a process writes and lets tests wait for
// one.
type mbLog struct {
	mu    sync.Mutex
	lines []string
	recs  []map[string]any
	more  chan struct{} // closed and replaced whenever a line arrives
}

func newMBLog() *mbLog { return &mbLog{more: make(chan struct{})} }

// consume reads r line by line until it ends.
func (l *mbLog) consume(r io.Reader) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		line := sc.Text()
		var rec map[string]any
		_ = json.Unmarshal([]byte(line), &rec) // non-JSON lines keep a nil record
		l.mu.Lock()
		l.lines = append(l.lines, line)
		l.recs = append(l.recs, rec)
		close(l.more)
		l.more = make(chan struct{})
		l.mu.Unlock()
	}
}

// find returns the records from index from on that match.
func (l *mbLog) find(from int, match func(map[string]any) bool) []map[string]any {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []map[string]any
	for _, r := range l.recs[min(from, len(l.recs)):] {
		if r != nil && match(r) {
			out = append(out, r)
		}
	}
	return out
}

// len returns the number of lines so far.
func (l *mbLog) len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.lines)
}

// wait waits until a record from index from on matches and returns it.
func (l *mbLog) wait(from int, timeout time.Duration, match func(map[string]any) bool) (map[string]any, bool) {
	deadline := time.After(timeout)
	for {
		l.mu.Lock()
		more := l.more
		l.mu.Unlock()
		if m := l.find(from, match); len(m) > 0 {
			return m[0], true
		}
		select {
		case <-more:
		case <-deadline:
			return nil, false
		}
	}
}

// String returns everything logged, for failure messages.
func (l *mbLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}

// mbFields returns a matcher for records whose fields equal the given
// values (compared as text).
func mbFields(kv ...string) func(map[string]any) bool {
	return func(r map[string]any) bool {
		for i := 0; i+1 < len(kv); i += 2 {
			v, ok := r[kv[i]]
			if !ok || fmt.Sprint(v) != kv[i+1] {
				return false
			}
		}
		return true
	}
}

// mbDaemon is `zonegate serve` running in a lab's gateway namespace.
type mbDaemon struct {
	cmd  *exec.Cmd
	log  *mbLog
	done chan struct{}
}

// mbStartDaemon starts `zonegate serve --model model` in the gateway
// namespace and waits until the proxy listens and the model is applied.
// The test's cleanup stops it with SIGTERM.
func mbStartDaemon(t *testing.T, bin string, l *lab.Lab, model string) *mbDaemon {
	t.Helper()
	d := &mbDaemon{log: newMBLog(), done: make(chan struct{})}
	d.cmd = lab.Command(l.Gateway, bin, mbServeArgs(t, bin, model)...)
	stderr, err := d.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := d.cmd.Start(); err != nil {
		t.Fatalf("start zonegate serve: %v", err)
	}
	go func() {
		d.log.consume(stderr)
		_ = d.cmd.Wait()
		close(d.done)
	}()
	t.Cleanup(func() { d.stop(t) })
	if _, ok := d.log.wait(0, 20*time.Second, mbFields("msg", "zone model applied")); !ok {
		t.Fatalf("zonegate serve did not apply the model within 20s:\n%s", d.log)
	}
	if _, ok := d.log.wait(0, time.Second, mbFields("msg", "Modbus proxy listening")); !ok {
		t.Fatalf("zonegate serve applied the model but its Modbus proxy does not listen:\n%s", d.log)
	}
	return d
}

// mbServeArgs returns the arguments of `zonegate serve` for a test: the
// model, and a private state directory and API socket when this zonegate
// has them (it keeps model versions and the audit log there, by default
// in /var/lib/zonegate and /run/zonegate, which tests must not share).
func mbServeArgs(t *testing.T, bin, model string) []string {
	t.Helper()
	args := []string{"serve", "--model", model}
	usage, _ := exec.Command(bin, "serve", "-h").CombinedOutput()
	dir := t.TempDir()
	if bytes.Contains(usage, []byte("state-dir")) {
		args = append(args, "--state-dir", filepath.Join(dir, "state"))
	}
	if bytes.Contains(usage, []byte("socket")) {
		args = append(args, "--socket", filepath.Join(dir, "api.sock"))
	}
	return args
}

// mbApplied matches the daemon's log line saying a model is in force: at
// start, or after SIGHUP (which newer daemons record as a pushed version).
func mbApplied(r map[string]any) bool {
	return r["msg"] == "zone model applied" || r["msg"] == "model pushed"
}

// pid returns the daemon's process id. `ip netns exec` executes zonegate
// in its own process, so this is zonegate itself.
func (d *mbDaemon) pid() int { return d.cmd.Process.Pid }

// reload rewrites the model file, sends SIGHUP and waits until the daemon
// has applied the new model.
func (d *mbDaemon) reload(t *testing.T, model, text string) {
	t.Helper()
	from := d.log.len()
	d.hup(t, model, text)
	if _, ok := d.log.wait(from, 10*time.Second, mbApplied); !ok {
		t.Fatalf("zonegate did not apply the new model within 10s of SIGHUP:\n%s", d.log)
	}
}

// hup rewrites the model file and sends SIGHUP to the daemon.
func (d *mbDaemon) hup(t *testing.T, model, text string) {
	t.Helper()
	if err := os.WriteFile(model, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(d.pid(), syscall.SIGHUP); err != nil {
		t.Fatalf("SIGHUP zonegate: %v", err)
	}
}

func (d *mbDaemon) stop(t *testing.T) {
	select {
	case <-d.done:
		return
	default:
	}
	_ = d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.done:
	case <-time.After(5 * time.Second):
		t.Errorf("zonegate serve did not stop within 5s of SIGTERM; killing it")
		_ = d.cmd.Process.Kill()
		<-d.done
	}
}

// mbPyPLC is the pymodbus fake PLC (testdata/modbus_plc.py) running in an
// asset's namespace. It logs every request it decodes.
type mbPyPLC struct {
	logPath string
	cmd     *exec.Cmd
	done    chan struct{}
}

// mbPyRequest is one line of the pymodbus PLC's request log.
type mbPyRequest struct {
	Peer    string `json:"peer"`
	Raw     string `json:"raw"`
	TID     int    `json:"tid"`
	Unit    int    `json:"unit"`
	FC      int    `json:"fc"`
	Address int    `json:"address"`
	Count   int    `json:"count"`
	Values  []any  `json:"values"`
}

// mbStartPyPLC starts the pymodbus PLC on host:502 in namespace ns and
// waits until it listens.
func mbStartPyPLC(t *testing.T, ns, host string) *mbPyPLC {
	t.Helper()
	p := &mbPyPLC{logPath: filepath.Join(t.TempDir(), "plc-"+ns+".log"), done: make(chan struct{})}
	p.cmd = lab.Command(ns, mbPython, repoFile(t, "test/e2e/testdata/modbus_plc.py"), "--host", host, "--port", "502", "--log", p.logPath)
	stdout, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	p.cmd.Stderr = &stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start pymodbus PLC: %v", err)
	}
	ready := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		ok := false
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), "ready") && !ok {
				ok = true
				ready <- true
			}
		}
		if !ok {
			ready <- false
		}
		_ = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(3 * time.Second):
			_ = p.cmd.Process.Kill()
			<-p.done
		}
	})
	select {
	case ok := <-ready:
		if !ok {
			<-p.done
			t.Fatalf("pymodbus PLC in %s ended before it listened:\n%s", ns, stderr.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatalf("pymodbus PLC in %s not ready after 15s:\n%s", ns, stderr.String())
	}
	return p
}

// requests returns the decoded requests the PLC logged (raw chunks left
// out).
func (p *mbPyPLC) requests(t *testing.T) []mbPyRequest {
	t.Helper()
	b, err := os.ReadFile(p.logPath)
	if err != nil {
		t.Fatalf("read PLC log: %v", err)
	}
	var out []mbPyRequest
	for _, line := range bytes.Split(b, []byte("\n")) {
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		var r mbPyRequest
		if err := json.Unmarshal(line, &r); err != nil {
			t.Fatalf("PLC log line %q: %v", line, err)
		}
		if r.Raw != "" {
			continue
		}
		if r.FC == 5 || r.FC == 6 {
			r.Count = 1 // pymodbus has no count for single writes
		}
		out = append(out, r)
	}
	return out
}

// mbGoRequest is one request the simonvetter/modbus PLC handled.
type mbGoRequest struct {
	FC    int // 1, 2, 3, 4 for reads; 5/15 coils and 6/16 registers as write
	Unit  uint8
	Addr  uint16
	Qty   uint16
	Write bool
	Regs  []uint16
}

// mbGoPLC is a simonvetter/modbus server in an asset's namespace that
// records every request it handles. Registers hold 1000+address, coils and
// discrete inputs address%2.
type mbGoPLC struct {
	srv  *mbserver.ModbusServer
	mu   sync.Mutex
	reqs []mbGoRequest
	n    int
}

// mbStartGoPLC starts the server on hostport ("198.18.0.1:502",
// "[fd00::1]:502") inside ns. simonvetter/modbus cannot take a listener;
// its Start calls net.Listen on the calling thread, so calling it inside
// lab.Do opens the socket in the namespace, and the server's goroutines
// use it from any thread afterwards.
func mbStartGoPLC(t *testing.T, ns, hostport string) *mbGoPLC {
	t.Helper()
	p := &mbGoPLC{}
	srv, err := mbserver.NewServer(&mbserver.ServerConfiguration{
		URL:        "tcp://" + hostport,
		Timeout:    time.Minute,
		MaxClients: 256,
		Logger:     log.New(io.Discard, "", 0),
	}, p)
	if err != nil {
		t.Fatal(err)
	}
	if err := lab.Do(ns, srv.Start); err != nil {
		t.Fatalf("start Go PLC on %s in %s: %v", hostport, ns, err)
	}
	p.srv = srv
	t.Cleanup(func() { _ = srv.Stop() })
	return p
}

func (p *mbGoPLC) record(r mbGoRequest) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.n++
	if len(p.reqs) < 100000 {
		p.reqs = append(p.reqs, r)
	}
}

// requests returns a copy of the recorded requests.
func (p *mbGoPLC) requests() []mbGoRequest {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]mbGoRequest(nil), p.reqs...)
}

// count returns the number of requests handled.
func (p *mbGoPLC) count() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.n
}

func bitsAt(addr, qty uint16) []bool {
	out := make([]bool, qty)
	for i := range out {
		out[i] = (int(addr)+i)%2 == 1
	}
	return out
}

func regsAt(addr, qty uint16) []uint16 {
	out := make([]uint16, qty)
	for i := range out {
		out[i] = uint16(1000 + int(addr) + i)
	}
	return out
}

// HandleCoils implements mbserver.RequestHandler.
func (p *mbGoPLC) HandleCoils(r *mbserver.CoilsRequest) ([]bool, error) {
	fc := 1
	if r.IsWrite {
		fc = 5
		if r.Quantity > 1 {
			fc = 15
		}
	}
	p.record(mbGoRequest{FC: fc, Unit: r.UnitId, Addr: r.Addr, Qty: r.Quantity, Write: r.IsWrite})
	return bitsAt(r.Addr, r.Quantity), nil
}

// HandleDiscreteInputs implements mbserver.RequestHandler.
func (p *mbGoPLC) HandleDiscreteInputs(r *mbserver.DiscreteInputsRequest) ([]bool, error) {
	p.record(mbGoRequest{FC: 2, Unit: r.UnitId, Addr: r.Addr, Qty: r.Quantity})
	return bitsAt(r.Addr, r.Quantity), nil
}

// HandleHoldingRegisters implements mbserver.RequestHandler.
func (p *mbGoPLC) HandleHoldingRegisters(r *mbserver.HoldingRegistersRequest) ([]uint16, error) {
	fc := 3
	if r.IsWrite {
		fc = 16 // simonvetter reports FC 6 and 16 alike
	}
	p.record(mbGoRequest{FC: fc, Unit: r.UnitId, Addr: r.Addr, Qty: r.Quantity, Write: r.IsWrite, Regs: append([]uint16(nil), r.Args...)})
	return regsAt(r.Addr, r.Quantity), nil
}

// HandleInputRegisters implements mbserver.RequestHandler.
func (p *mbGoPLC) HandleInputRegisters(r *mbserver.InputRegistersRequest) ([]uint16, error) {
	p.record(mbGoRequest{FC: 4, Unit: r.UnitId, Addr: r.Addr, Qty: r.Quantity})
	return regsAt(r.Addr, r.Quantity), nil
}

// mbRun runs a command in a namespace with a timeout and returns its
// stdout, stderr and exit status.
func mbRun(t *testing.T, timeout time.Duration, ns, name string, args ...string) (string, string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", ns, name}, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return stdout.String(), stderr.String(), 0
	case ctx.Err() != nil:
		t.Fatalf("%s %s in %s did not end within %s\n%s%s", name, strings.Join(args, " "), ns, timeout, stdout.String(), stderr.String())
	case errors.As(err, &ee):
		return stdout.String(), stderr.String(), ee.ExitCode()
	default:
		t.Fatalf("%s %s in %s: %v", name, strings.Join(args, " "), ns, err)
	}
	return "", "", -1
}

// mbPoll runs mbpoll once (-1) with zero-based references (-0) against
// host:502 from namespace ns. opts select table, reference and count, e.g.
// "-t", "4", "-r", "0", "-c", "10"; values, if any, are written.
func mbPoll(t *testing.T, ns, host string, opts []string, values ...string) (string, string, int) {
	t.Helper()
	args := append([]string{"-m", "tcp", "-a", "1", "-p", "502", "-0", "-1", "-q", "-o", "2"}, opts...)
	args = append(append(args, host), values...)
	return mbRun(t, 15*time.Second, ns, "mbpoll", args...)
}

// mbPollValues parses mbpoll's "[ref]: value" lines.
func mbPollValues(out string) map[int]int {
	vals := map[int]int{}
	for _, line := range strings.Split(out, "\n") {
		line = strings.TrimSpace(line)
		if !strings.HasPrefix(line, "[") {
			continue
		}
		ref, val, ok := strings.Cut(line[1:], "]:")
		if !ok {
			continue
		}
		r, err1 := strconv.Atoi(strings.TrimSpace(ref))
		v, err2 := strconv.Atoi(strings.TrimSpace(val))
		if err1 == nil && err2 == nil {
			vals[r] = v
		}
	}
	return vals
}

// mbPyResult is one line of testdata/modbus_client.py's output.
type mbPyResult struct {
	Op        string `json:"op"`
	OK        bool   `json:"ok"`
	Values    []int  `json:"values"`
	Exception int    `json:"exception"`
	Error     string `json:"error"`
}

// mbPyClient runs the pymodbus client from ns against host:502: all ops
// over one connection, one result per op.
func mbPyClient(t *testing.T, ns, host string, ops ...string) []mbPyResult {
	t.Helper()
	args := append([]string{repoFile(t, "test/e2e/testdata/modbus_client.py"), host, "502"}, ops...)
	out, errOut, code := mbRun(t, 30*time.Second, ns, mbPython, args...)
	if code != 0 {
		t.Fatalf("pymodbus client exit %d:\n%s%s", code, out, errOut)
	}
	var res []mbPyResult
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var r mbPyResult
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("pymodbus client printed %q: %v\nstderr:\n%s", line, err, errOut)
		}
		res = append(res, r)
	}
	if len(res) != len(ops) {
		t.Fatalf("pymodbus client gave %d results for %d operations:\n%s%s", len(res), len(ops), out, errOut)
	}
	return res
}

// mbConn is a raw Modbus/TCP client connection opened from a namespace.
type mbConn struct {
	net.Conn
	tid uint16
}

// mbDial connects from ns to addr (host:port).
func mbDial(t *testing.T, ns, addr string) *mbConn {
	t.Helper()
	c, err := lab.Dial(ns, "tcp", addr, 3*time.Second)
	if err != nil {
		t.Fatalf("connect from %s to %s: %v", ns, addr, err)
	}
	t.Cleanup(func() { c.Close() })
	return &mbConn{Conn: c}
}

// mbFrame builds a Modbus/TCP frame for a PDU.
func mbFrame(tid uint16, unit uint8, pdu ...byte) []byte {
	f := make([]byte, 7, 7+len(pdu))
	binary.BigEndian.PutUint16(f[0:], tid)
	binary.BigEndian.PutUint16(f[4:], uint16(len(pdu)+1))
	f[6] = unit
	return append(f, pdu...)
}

// mbReadHR is the PDU of FC 3 for qty registers from addr.
func mbReadHR(addr, qty uint16) []byte {
	return []byte{3, byte(addr >> 8), byte(addr), byte(qty >> 8), byte(qty)}
}

// mbWriteHR is the PDU of FC 6.
func mbWriteHR(addr, val uint16) []byte {
	return []byte{6, byte(addr >> 8), byte(addr), byte(val >> 8), byte(val)}
}

// mbReadFrame reads one response frame.
func mbReadFrame(r io.Reader) ([]byte, error) {
	hdr := make([]byte, 7, 260)
	if _, err := io.ReadFull(r, hdr); err != nil {
		return nil, err
	}
	n := int(binary.BigEndian.Uint16(hdr[4:6]))
	if n < 2 || n > 254 {
		return hdr, fmt.Errorf("response with MBAP length %d", n)
	}
	rest := make([]byte, n-1)
	if _, err := io.ReadFull(r, rest); err != nil {
		return nil, err
	}
	return append(hdr, rest...), nil
}

// do sends one request and returns the response's PDU.
func (c *mbConn) do(unit uint8, pdu ...byte) ([]byte, error) {
	c.tid++
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write(mbFrame(c.tid, unit, pdu...)); err != nil {
		return nil, err
	}
	f, err := mbReadFrame(c)
	if err != nil {
		return nil, err
	}
	if got := binary.BigEndian.Uint16(f[0:2]); got != c.tid {
		return nil, fmt.Errorf("response transaction id %d, want %d", got, c.tid)
	}
	return f[7:], nil
}

// mbCheckRegs checks a FC 3 response PDU against the fake PLCs' contents.
func mbCheckRegs(pdu []byte, addr, qty uint16) error {
	if len(pdu) < 2 || pdu[0] != 3 {
		return fmt.Errorf("not a read holding registers response: % x", pdu)
	}
	if int(pdu[1]) != 2*int(qty) || len(pdu) != 2+2*int(qty) {
		return fmt.Errorf("byte count %d for %d registers: % x", pdu[1], qty, pdu)
	}
	for i, want := range regsAt(addr, qty) {
		if got := binary.BigEndian.Uint16(pdu[2+2*i:]); got != want {
			return fmt.Errorf("register %d = %d, want %d", int(addr)+i, got, want)
		}
	}
	return nil
}

// mbException returns the exception code of a response PDU, or 0.
func mbException(pdu []byte) int {
	if len(pdu) == 2 && pdu[0]&0x80 != 0 {
		return int(pdu[1])
	}
	return 0
}

// mbIsReset reports whether err says the peer reset the connection (or
// closed it, which a reset racing our read may look like).
func mbIsReset(err error) bool {
	return errors.Is(err, syscall.ECONNRESET) || errors.Is(err, io.EOF) || errors.Is(err, syscall.EPIPE)
}
