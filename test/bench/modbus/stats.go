package main

import (
	"math"
	"slices"
	"strconv"
	"time"
)

// percentile returns the q-quantile (0 <= q <= 1) of ds, interpolating
// linearly between the two nearest ranks (so the p99 of 50 samples lies
// between the second largest and the largest); 0 when ds is empty.
func percentile(ds []time.Duration, q float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	q = min(max(q, 0), 1)
	pos := q * float64(len(s)-1)
	lo := int(math.Floor(pos))
	hi := min(lo+1, len(s)-1)
	frac := pos - float64(lo)
	return s[lo] + time.Duration(math.Round(frac*float64(s[hi]-s[lo])))
}

// longest returns the largest of ds, 0 when ds is empty.
func longest(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	return slices.Max(ds)
}

// ms formats a duration in milliseconds with a precision that suits its
// size (sub-millisecond pauses keep three decimals).
func ms(d time.Duration) string {
	v := float64(d) / float64(time.Millisecond)
	prec := 0
	switch {
	case v < 10:
		prec = 3
	case v < 100:
		prec = 1
	}
	return strconv.FormatFloat(v, 'f', prec, 64) + " ms"
}
