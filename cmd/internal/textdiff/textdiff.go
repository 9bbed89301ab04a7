// Package textdiff writes the difference of two texts as a unified diff
// (the format of `diff -u`), for the CLI's dry runs: the nft script of the
// running model against the one a push would install.
//
// Lines are compared whole. The common head and tail are cut off first
// (a push usually changes a few lines of a long script); the middle is
// compared with Myers' O(ND) algorithm. When more than MaxEdits lines
// differ, the middle is shown as removed and added whole instead of
// searching for its shortest edit script.
package textdiff

import (
	"fmt"
	"strings"
)

// MaxEdits bounds the edit distance Unified searches for; beyond it the
// differing middle is shown as one hunk removed and added.
const MaxEdits = 4000

// op is one line of an edit script.
type op struct {
	kind byte // ' ' same, '-' only in a, '+' only in b
	text string
}

// Lines splits a text into lines without their line ends; a final line
// end adds no empty line.
func Lines(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(strings.TrimSuffix(s, "\n"), "\n")
}

// Unified returns the unified diff of a (named aName) and b (bName) with
// context lines around each change, or "" when they are equal.
func Unified(aName, bName string, a, b []string, context int) string {
	ops := script(a, b)
	changed := false
	for _, o := range ops {
		if o.kind != ' ' {
			changed = true
			break
		}
	}
	if !changed {
		return ""
	}
	var sb strings.Builder
	fmt.Fprintf(&sb, "--- %s\n+++ %s\n", aName, bName)
	for _, h := range hunks(ops, context) {
		writeHunk(&sb, ops, h)
	}
	return sb.String()
}

// script is the edit script from a to b.
func script(a, b []string) []op {
	head := 0
	for head < len(a) && head < len(b) && a[head] == b[head] {
		head++
	}
	tail := 0
	for tail < len(a)-head && tail < len(b)-head && a[len(a)-1-tail] == b[len(b)-1-tail] {
		tail++
	}
	out := make([]op, 0, len(a)+len(b)-head-tail)
	for _, l := range a[:head] {
		out = append(out, op{' ', l})
	}
	out = append(out, middle(a[head:len(a)-tail], b[head:len(b)-tail])...)
	for _, l := range a[len(a)-tail:] {
		out = append(out, op{' ', l})
	}
	return out
}

// middle is Myers' shortest edit script of a to b, or a removed and b
// added when more than MaxEdits lines differ.
func middle(a, b []string) []op {
	n, m := len(a), len(b)
	whole := func() []op {
		out := make([]op, 0, n+m)
		for _, l := range a {
			out = append(out, op{'-', l})
		}
		for _, l := range b {
			out = append(out, op{'+', l})
		}
		return out
	}
	if n == 0 || m == 0 {
		return whole()
	}
	maxD := min(n+m, MaxEdits)
	off := maxD + 1
	v := make([]int, 2*maxD+3)
	// trace[d] is v after step d, for walking back.
	var trace [][]int
	found := -1
	for d := 0; d <= maxD && found < 0; d++ {
		for k := -d; k <= d; k += 2 {
			var x int
			if k == -d || (k != d && v[off+k-1] < v[off+k+1]) {
				x = v[off+k+1] // down: a line of b inserted
			} else {
				x = v[off+k-1] + 1 // right: a line of a deleted
			}
			y := x - k
			for x < n && y < m && a[x] == b[y] {
				x++
				y++
			}
			v[off+k] = x
			if x >= n && y >= m {
				found = d
				break
			}
		}
		trace = append(trace, append([]int(nil), v...))
	}
	if found < 0 {
		return whole()
	}
	// Walk back from (n, m) to (0, 0).
	var rev []op
	x, y := n, m
	for d := found; d > 0; d-- {
		pv := trace[d-1]
		k := x - y
		var pk int
		if k == -d || (k != d && pv[off+k-1] < pv[off+k+1]) {
			pk = k + 1
		} else {
			pk = k - 1
		}
		px := pv[off+pk]
		py := px - pk
		// The move from (px, py) ends at (mx, my); a snake of equal
		// lines runs from there to (x, y).
		mx, my := px+1, py
		if pk == k+1 {
			mx, my = px, py+1
		}
		for x > mx && y > my {
			x--
			y--
			rev = append(rev, op{' ', a[x]})
		}
		if pk == k+1 {
			y--
			rev = append(rev, op{'+', b[y]})
		} else {
			x--
			rev = append(rev, op{'-', a[x]})
		}
	}
	for x > 0 && y > 0 {
		x--
		y--
		rev = append(rev, op{' ', a[x]})
	}
	out := make([]op, len(rev))
	for i, o := range rev {
		out[len(rev)-1-i] = o
	}
	return out
}

// hunk is a range of the edit script shown together.
type hunk struct{ from, to int }

// hunks groups the changes of ops with context lines around them;
// changes closer than twice the context share a hunk.
func hunks(ops []op, context int) []hunk {
	var out []hunk
	for i := 0; i < len(ops); i++ {
		if ops[i].kind == ' ' {
			continue
		}
		from := max(i-context, 0)
		last := i
		for j := i + 1; j < len(ops) && j <= last+2*context; j++ {
			if ops[j].kind != ' ' {
				last = j
			}
		}
		to := min(last+context+1, len(ops))
		if n := len(out); n > 0 && out[n-1].to >= from {
			out[n-1].to = to
		} else {
			out = append(out, hunk{from, to})
		}
		i = last
	}
	return out
}

// writeHunk writes one hunk with its @@ header.
func writeHunk(sb *strings.Builder, ops []op, h hunk) {
	aLine, bLine := 1, 1
	for _, o := range ops[:h.from] {
		if o.kind != '+' {
			aLine++
		}
		if o.kind != '-' {
			bLine++
		}
	}
	aLen, bLen := 0, 0
	for _, o := range ops[h.from:h.to] {
		if o.kind != '+' {
			aLen++
		}
		if o.kind != '-' {
			bLen++
		}
	}
	fmt.Fprintf(sb, "@@ -%s +%s @@\n", span(aLine, aLen), span(bLine, bLen))
	for _, o := range ops[h.from:h.to] {
		sb.WriteByte(o.kind)
		sb.WriteString(o.text)
		sb.WriteByte('\n')
	}
}

// span is a hunk range as diff writes it: "start,len", an empty range
// starting at the line before.
func span(start, n int) string {
	if n == 0 {
		return fmt.Sprintf("%d,0", start-1)
	}
	if n == 1 {
		return fmt.Sprintf("%d", start)
	}
	return fmt.Sprintf("%d,%d", start, n)
}
