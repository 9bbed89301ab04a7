package textdiff

import (
	"fmt"
	"math/rand"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestUnifiedSmallChange(t *testing.T) {
	a := Lines("table inet zonegate {\n  chain fwd {\n    tcp dport 502 accept\n  }\n}\n")
	b := Lines("table inet zonegate {\n  chain fwd {\n    tcp dport 503 accept\n  }\n}\n")
	got := Unified("running", "pushed", a, b, 1)
	assert.Equal(t, `--- running
+++ pushed
@@ -2,3 +2,3 @@
   chain fwd {
-    tcp dport 502 accept
+    tcp dport 503 accept
   }
`, got)
	assert.Empty(t, Unified("a", "b", a, a, 3), "equal texts have no diff")
}

func TestUnifiedEmptySides(t *testing.T) {
	assert.Equal(t, "--- a\n+++ b\n@@ -0,0 +1,2 @@\n+x\n+y\n", Unified("a", "b", nil, []string{"x", "y"}, 3))
	assert.Equal(t, "--- a\n+++ b\n@@ -1 +0,0 @@\n-x\n", Unified("a", "b", []string{"x"}, nil, 3))
}

func TestUnifiedSeparateHunks(t *testing.T) {
	var a []string
	for i := range 40 {
		a = append(a, strconv.Itoa(i))
	}
	b := append([]string(nil), a...)
	b[3], b[30] = "three", "thirty"
	got := Unified("a", "b", a, b, 2)
	assert.Equal(t, 2, strings.Count(got, "@@ -"), got)
	assert.Contains(t, got, "@@ -2,5 +2,5 @@\n 1\n 2\n-3\n+three\n 4\n 5\n")
	assert.Contains(t, got, "@@ -29,5 +29,5 @@\n 28\n 29\n-30\n+thirty\n 31\n 32\n")
}

// lcs is the length of the longest common subsequence (dynamic
// programming, the reference for the shortest edit script).
func lcs(a, b []string) int {
	dp := make([][]int, len(a)+1)
	for i := range dp {
		dp[i] = make([]int, len(b)+1)
	}
	for i := len(a) - 1; i >= 0; i-- {
		for j := len(b) - 1; j >= 0; j-- {
			if a[i] == b[j] {
				dp[i][j] = dp[i+1][j+1] + 1
			} else {
				dp[i][j] = max(dp[i+1][j], dp[i][j+1])
			}
		}
	}
	return dp[0][0]
}

// apply rebuilds b from a and the unified diff, checking every hunk
// header against the lines it covers.
func apply(t *testing.T, a []string, diff string) []string {
	t.Helper()
	lines := Lines(diff)
	require.GreaterOrEqual(t, len(lines), 2)
	var out []string
	next := 0 // next line of a not yet copied
	for i := 2; i < len(lines); {
		var as, al, bs, bl int
		h := lines[i]
		// Normalise "-N" and "+N" (length 1) to "N,1".
		fields := strings.Fields(strings.Trim(h, "@ "))
		require.Len(t, fields, 2, h)
		parse := func(f string) (int, int) {
			f = f[1:]
			s, l, ok := strings.Cut(f, ",")
			if !ok {
				l = "1"
			}
			x, err1 := strconv.Atoi(s)
			y, err2 := strconv.Atoi(l)
			require.NoError(t, err1, h)
			require.NoError(t, err2, h)
			return x, y
		}
		as, al = parse(fields[0])
		bs, bl = parse(fields[1])
		start := as - 1
		if al == 0 {
			start = as
		}
		out = append(out, a[next:start]...)
		next = start
		require.Equal(t, len(out)+1, bs+boolInt(bl == 0), "b start of %s", h)
		i++
		na, nb := 0, 0
		for ; i < len(lines) && !strings.HasPrefix(lines[i], "@@"); i++ {
			l := lines[i]
			switch l[0] {
			case ' ':
				require.Equal(t, a[next], l[1:], h)
				out = append(out, l[1:])
				next++
				na++
				nb++
			case '-':
				require.Equal(t, a[next], l[1:], h)
				next++
				na++
			case '+':
				out = append(out, l[1:])
				nb++
			}
		}
		require.Equal(t, al, na, "a length of %s", h)
		require.Equal(t, bl, nb, "b length of %s", h)
	}
	return append(out, a[next:]...)
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// TestUnifiedRandom: on random texts the diff rebuilds b from a, its
// headers count right, and it changes the fewest lines possible.
func TestUnifiedRandom(t *testing.T) {
	r := rand.New(rand.NewSource(1))
	gen := func() []string {
		n := r.Intn(30)
		out := make([]string, n)
		for i := range out {
			out[i] = string(rune('a' + r.Intn(4)))
		}
		return out
	}
	for i := range 2000 {
		a, b := gen(), gen()
		name := fmt.Sprintf("case %d: %q -> %q", i, a, b)
		d := Unified("a", "b", a, b, r.Intn(4))
		if lcs(a, b) == len(a) && len(a) == len(b) {
			require.Empty(t, d, name)
			continue
		}
		require.Equal(t, b, append([]string{}, apply(t, a, d)...), name)
		ops := script(a, b)
		edits := 0
		for _, o := range ops {
			if o.kind != ' ' {
				edits++
			}
		}
		require.Equal(t, len(a)+len(b)-2*lcs(a, b), edits, name)
	}
}

// TestUnifiedBeyondMaxEdits shows the middle whole when it differs in
// more than MaxEdits lines, and still rebuilds b.
func TestUnifiedBeyondMaxEdits(t *testing.T) {
	var a, b []string
	a = append(a, "head")
	b = append(b, "head")
	for i := range MaxEdits {
		a = append(a, "a"+strconv.Itoa(i))
		b = append(b, "b"+strconv.Itoa(i))
	}
	a = append(a, "tail")
	b = append(b, "tail")
	d := Unified("a", "b", a, b, 1)
	require.Equal(t, b, apply(t, a, d))
	assert.Equal(t, 1, strings.Count(d, "@@ -"))
}
