package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/zonegate/zonegate/test/prereq"

	"github.com/zonegate/zonegate/test/lab"
)

// labBins are the zonelab and zonegate binaries built for a test.
type labBins struct{ zonelab, zonegate string }

// labBuild builds cmd/zonelab and cmd/zonegate (once per test run), side
// by side as zonelab expects them.
func labBuild(t *testing.T) labBins {
	t.Helper()
	return labBins{zonelab: buildCmd(t, "zonelab"), zonegate: buildCmd(t, "zonegate")}
}

// labRequireNft skips unless the nft tool is installed.
func labRequireNft(t *testing.T) {
	t.Helper()
	prereq.Command(t, "nft", "nftables")
}

// labExec runs a command and returns its stdout, stderr and exit code.
func labExec(t *testing.T, name string, args ...string) (string, string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			t.Fatalf("%s %s: %v", name, strings.Join(args, " "), err)
		}
		code = ee.ExitCode()
	}
	return stdout.String(), stderr.String(), code
}

// labMustExec runs a command that must succeed.
func labMustExec(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, errOut, code := labExec(t, name, args...)
	if code != 0 {
		t.Fatalf("%s %s: exit %d\n%s%s", name, strings.Join(args, " "), code, out, errOut)
	}
	return out
}

// labProbeJSON runs `zonelab probe --json` and returns its report and exit code.
func labProbeJSON(t *testing.T, bins labBins, model, prefix string) (labReport, int) {
	t.Helper()
	out, errOut, code := labExec(t, bins.zonelab, "probe", model, "--json", "--prefix", prefix)
	var rep labReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("zonelab probe --json (exit %d) printed no JSON report: %v\nstdout:\n%s\nstderr:\n%s", code, err, out, errOut)
	}
	return rep, code
}

// labReport is the part of the probe's JSON report the tests read.
type labReport struct {
	Ruleset string `json:"ruleset"`
	Summary struct {
		Cases, OK, Mismatches, Skipped int
	} `json:"summary"`
	Results []lab.Row `json:"results"`
}

// mismatches returns "from>to service family" for each mismatching row.
func (r labReport) mismatches() []string {
	var out []string
	for _, row := range r.Results {
		if row.Status == "mismatch" {
			out = append(out, labRowKey(row))
		}
	}
	return out
}

func labRowKey(row lab.Row) string {
	return fmt.Sprintf("%s>%s %s %s", row.From, row.To, row.Service, row.Family)
}

// labRun is a `zonelab run` started by a test.
type labRun struct {
	cmd    *exec.Cmd
	stderr *bytes.Buffer
	daemon int      // pid of zonegate serve
	out    []string // what it printed up to "ready"
	done   chan error
}

var daemonPidRE = regexp.MustCompile(`zonegate serve \(pid (\d+)\)`)

// labStartRun starts `zonelab run` (with flags) and waits until it says
// it is ready.
func labStartRun(t *testing.T, bins labBins, model, prefix string, flags ...string) *labRun {
	t.Helper()
	cmd := exec.Command(bins.zonelab, append([]string{"run", model, "--prefix", prefix}, flags...)...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	r := &labRun{cmd: cmd, stderr: &bytes.Buffer{}, done: make(chan error, 1)}
	cmd.Stderr = r.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill() // no-op when it has ended
		_ = lab.DownPrefix(prefix)
	})
	lines := make(chan string, 100)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
		r.done <- cmd.Wait()
	}()
	timeout := time.After(90 * time.Second)
	var seen []string
	for {
		select {
		case line, ok := <-lines:
			if !ok {
				t.Fatalf("zonelab run ended before it was ready:\n%s\n%s", strings.Join(seen, "\n"), r.stderr)
			}
			seen = append(seen, line)
			if m := daemonPidRE.FindStringSubmatch(line); m != nil {
				r.daemon, _ = strconv.Atoi(m[1])
			}
			if strings.HasPrefix(line, "ready") {
				if r.daemon == 0 {
					t.Fatalf("zonelab run did not name the daemon's pid:\n%s", strings.Join(seen, "\n"))
				}
				go func() {
					for range lines { // keep draining
					}
				}()
				r.out = seen
				return r
			}
		case <-timeout:
			t.Fatalf("zonelab run not ready after 90s:\n%s\n%s", strings.Join(seen, "\n"), r.stderr)
		}
	}
}

// wait waits for zonelab run to end and returns its exit code.
func (r *labRun) wait(t *testing.T, timeout time.Duration) int {
	t.Helper()
	select {
	case err := <-r.done:
		if err == nil {
			return 0
		}
		if ee, ok := err.(*exec.ExitError); ok {
			if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
				return -int(ws.Signal())
			}
			return ee.ExitCode()
		}
		t.Fatalf("zonelab run: %v", err)
	case <-time.After(timeout):
		t.Fatalf("zonelab run did not end within %s:\n%s", timeout, r.stderr)
	}
	return 0
}

// labAlive reports whether a process exists and is no zombie.
func labAlive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	i := bytes.LastIndexByte(b, ')')
	return i < 0 || i+2 >= len(b) || b[i+2] != 'Z'
}

// labWaitGone waits up to timeout for a process to end.
func labWaitGone(pid int, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for labAlive(pid) {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(50 * time.Millisecond)
	}
	return true
}

// labRootLinks lists the links of the test's own (root) namespace.
func labRootLinks(t *testing.T) map[string]bool {
	t.Helper()
	out := labMustExec(t, "ip", "-o", "link", "show")
	links := map[string]bool{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		f := strings.Fields(line)
		if len(f) > 1 {
			links[strings.SplitN(strings.TrimSuffix(f[1], ":"), "@", 2)[0]] = true
		}
	}
	return links
}

// labNetnsInode returns the inode of a named namespace.
func labNetnsInode(t *testing.T, name string) uint64 {
	t.Helper()
	var st syscall.Stat_t
	if err := syscall.Stat("/run/netns/"+name, &st); err != nil {
		t.Fatalf("stat namespace %s: %v", name, err)
	}
	return st.Ino
}

// labNetnsHolders lists the processes whose network namespace has inode ino.
func labNetnsHolders(ino uint64) []int {
	entries, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		var st syscall.Stat_t
		if syscall.Stat(fmt.Sprintf("/proc/%d/ns/net", pid), &st) == nil && st.Ino == ino {
			pids = append(pids, pid)
		}
	}
	return pids
}
