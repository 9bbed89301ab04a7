package zone

import (
	"fmt"
	"sort"
	"strings"

	"github.com/zonegate/zonegate/protocols/rulesblock"
)

// Pos is a 1-based line and column in the model file.
type Pos = rulesblock.Pos

// Severity tells errors from lint warnings.
type Severity int

// Severities of a Diagnostic.
const (
	SeverityError Severity = iota
	SeverityWarning
)

// Diagnostic is one problem found in a model file, printed as
// FILE:LINE:COLUMN: message.
type Diagnostic struct {
	File     string
	Pos      Pos
	Severity Severity
	Rule     string // lint rule name; empty for errors
	Message  string
}

func (d Diagnostic) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s:%d:%d: ", d.File, d.Pos.Line, d.Pos.Column)
	if d.Severity == SeverityWarning {
		b.WriteString("warning: ")
	}
	if d.Rule != "" {
		fmt.Fprintf(&b, "[%s] ", d.Rule)
	}
	b.WriteString(d.Message)
	return b.String()
}

// Diagnostics is a list of problems; as an error it prints one per line.
type Diagnostics []Diagnostic

func (ds Diagnostics) Error() string {
	lines := make([]string, len(ds))
	for i, d := range ds {
		lines[i] = d.String()
	}
	return strings.Join(lines, "\n")
}

// sortByPos orders diagnostics by position so they read top to bottom.
func (ds Diagnostics) sortByPos() {
	sort.SliceStable(ds, func(i, j int) bool {
		a, b := ds[i].Pos, ds[j].Pos
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Column < b.Column
	})
}

// maxDiagnostics bounds the problems reported for one file; a broken
// generated file must not produce megabytes of messages.
const maxDiagnostics = 200

// reporter collects diagnostics for one file.
type reporter struct {
	file    string
	diags   Diagnostics
	dropped int
}

func (r *reporter) errorf(p Pos, format string, args ...any) {
	if len(r.diags) >= maxDiagnostics {
		r.dropped++
		return
	}
	r.add(p, fmt.Sprintf(format, args...))
}

// add records an error message.
func (r *reporter) add(p Pos, msg string) {
	if len(r.diags) >= maxDiagnostics {
		r.dropped++
		return
	}
	r.diags = append(r.diags, Diagnostic{File: r.file, Pos: p, Message: msg})
}

// finish sorts the diagnostics and says how many were left out.
func (r *reporter) finish() Diagnostics {
	r.diags.sortByPos()
	if r.dropped > 0 {
		last := r.diags[len(r.diags)-1].Pos
		r.diags = append(r.diags, Diagnostic{File: r.file, Pos: last, Message: fmt.Sprintf("%d more problem(s) not shown: fix the ones above first", r.dropped)})
	}
	return r.diags
}

func (r *reporter) warnf(p Pos, rule, format string, args ...any) {
	r.diags = append(r.diags, Diagnostic{File: r.file, Pos: p, Severity: SeverityWarning, Rule: rule, Message: fmt.Sprintf(format, args...)})
}

// closest returns the candidate nearest to s by edit distance when it is
// close enough to be a likely typo, or "".
func closest(s string, candidates []string) string { return rulesblock.Closest(s, candidates) }
