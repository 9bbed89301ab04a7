// Command testreport reads `go test -json` from standard input and prints
// what a person needs from a long run: one line per package, the output of
// every failed test, every skipped test with its reason, and a closing line
// "tests: N passed, N failed, N skipped".
//
// With -no-skips PATTERN it also fails the run when a test in a package
// whose import path matches PATTERN skipped: `make test` sets it when it
// runs as root with every prerequisite installed, so a regression that
// turns into a skip (the test could not do its job) cannot pass unnoticed.
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"regexp"
	"sort"
	"strings"
)

// event is one line of `go test -json` (cmd/test2json).
type event struct {
	Action     string
	Package    string
	Test       string
	Elapsed    float64
	Output     string
	ImportPath string // build-output, build-fail
}

type key struct{ pkg, test string }

type report struct {
	out       io.Writer
	noSkips   *regexp.Regexp
	output    map[key][]string
	build     map[string][]string
	passed    int
	failed    []key
	skipped   []key
	reasons   map[key]string
	pkgFailed int
}

func main() {
	noSkips := flag.String("no-skips", "", "fail when a test of a package matching this regular expression skipped")
	flag.Parse()
	var re *regexp.Regexp
	if *noSkips != "" {
		var err error
		if re, err = regexp.Compile(*noSkips); err != nil {
			fmt.Fprintf(os.Stderr, "testreport: -no-skips: %v\n", err)
			os.Exit(2)
		}
	}
	r := newReport(os.Stdout, re)
	if err := r.read(os.Stdin); err != nil {
		fmt.Fprintf(os.Stderr, "testreport: %v\n", err)
		os.Exit(1)
	}
	os.Exit(r.finish())
}

// newReport writes to out; noSkips (may be nil) selects the packages where
// a skip fails the run.
func newReport(out io.Writer, noSkips *regexp.Regexp) *report {
	return &report{out: out, noSkips: noSkips, output: map[key][]string{}, build: map[string][]string{}, reasons: map[key]string{}}
}

func (r *report) read(in io.Reader) error {
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		line := sc.Bytes()
		var ev event
		if len(line) == 0 || line[0] != '{' || json.Unmarshal(line, &ev) != nil {
			// Not test2json: the go command's own messages. Pass them on.
			fmt.Fprintf(r.out, "%s\n", line)
			continue
		}
		r.handle(ev)
	}
	return sc.Err()
}

func (r *report) handle(ev event) {
	k := key{ev.Package, ev.Test}
	switch ev.Action {
	case "build-output":
		r.build[ev.ImportPath] = append(r.build[ev.ImportPath], ev.Output)
	case "build-fail":
		fmt.Fprintf(r.out, "%s", strings.Join(r.build[ev.ImportPath], ""))
	case "output":
		r.output[k] = append(r.output[k], ev.Output)
	case "pass":
		if ev.Test == "" {
			fmt.Fprintf(r.out, "ok  \t%s\t%.3fs\n", ev.Package, ev.Elapsed)
		} else {
			r.passed++
		}
		delete(r.output, k)
	case "skip":
		if ev.Test == "" {
			fmt.Fprintf(r.out, "?   \t%s\t[no test files]\n", ev.Package)
		} else {
			r.skipped = append(r.skipped, k)
			r.reasons[k] = skipReason(r.output[k])
		}
		delete(r.output, k)
	case "fail":
		if ev.Test == "" {
			r.pkgFailed++
			// Package-level output: a panic, a timeout, a build error.
			fmt.Fprintf(r.out, "%s", strings.Join(r.output[k], ""))
			fmt.Fprintf(r.out, "FAIL\t%s\t%.3fs\n", ev.Package, ev.Elapsed)
		} else {
			r.failed = append(r.failed, k)
			fmt.Fprintf(r.out, "--- FAIL: %s (%s)\n%s", ev.Test, ev.Package, strings.Join(r.output[k], ""))
		}
		delete(r.output, k)
	}
}

// skipReason is the message the test gave t.Skip, from its output.
func skipReason(lines []string) string {
	var msg []string
	for _, l := range lines {
		t := strings.TrimSpace(l)
		if t == "" || strings.HasPrefix(t, "=== ") || strings.HasPrefix(t, "--- SKIP") {
			continue
		}
		msg = append(msg, t)
	}
	if len(msg) == 0 {
		return "(no reason given)"
	}
	return strings.Join(msg, " ")
}

func (r *report) finish() int {
	code := 0
	if len(r.failed) > 0 || r.pkgFailed > 0 {
		code = 1
	}
	sort.Slice(r.skipped, func(i, j int) bool {
		a, b := r.skipped[i], r.skipped[j]
		return a.pkg < b.pkg || a.pkg == b.pkg && a.test < b.test
	})
	var forbidden int
	if len(r.skipped) > 0 {
		fmt.Fprintf(r.out, "\nskipped tests:\n")
		for _, k := range r.skipped {
			mark := ""
			if r.noSkips != nil && r.noSkips.MatchString(k.pkg) {
				mark = "  <- not allowed: every prerequisite is installed"
				forbidden++
			}
			fmt.Fprintf(r.out, "  %s %s: %s%s\n", k.pkg, k.test, r.reasons[k], mark)
		}
	}
	if forbidden > 0 {
		fmt.Fprintf(r.out, "\n%d test(s) skipped although this run has root and every prerequisite (.ci/install-deps.sh --check):\n"+
			"a skip there means the test could not do its job; fix the cause (a test may skip only for a missing prerequisite).\n", forbidden)
		code = 1
	}
	if len(r.failed) > 0 {
		fmt.Fprintf(r.out, "\nfailed tests:\n")
		for _, k := range r.failed {
			fmt.Fprintf(r.out, "  %s %s\n", k.pkg, k.test)
		}
	}
	fmt.Fprintf(r.out, "\ntests: %d passed, %d failed, %d skipped\n", r.passed, len(r.failed), len(r.skipped))
	return code
}
