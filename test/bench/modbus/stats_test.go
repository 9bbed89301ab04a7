package main

import (
	"testing"
	"time"
)

func TestPercentile(t *testing.T) {
	ms := func(v ...int) []time.Duration {
		out := make([]time.Duration, len(v))
		for i, x := range v {
			out[i] = time.Duration(x) * time.Millisecond
		}
		return out
	}
	fifty := make([]time.Duration, 50) // 1..50 ms, shuffled order
	for i := range fifty {
		fifty[i] = time.Duration((i*17)%50+1) * time.Millisecond
	}
	for _, tc := range []struct {
		name string
		ds   []time.Duration
		q    float64
		want time.Duration
	}{
		{"empty", nil, 0.5, 0},
		{"one", ms(7), 0.99, 7 * time.Millisecond},
		{"median of odd count", ms(5, 1, 3), 0.5, 3 * time.Millisecond},
		{"median of even count interpolates", ms(4, 1, 2, 3), 0.5, 2500 * time.Microsecond},
		{"minimum", ms(9, 4, 6), 0, 4 * time.Millisecond},
		{"maximum", ms(9, 4, 6), 1, 9 * time.Millisecond},
		// p99 of 1..50: position 0.99*49 = 48.51 between 49 and 50 ms.
		{"p99 of 50", fifty, 0.99, 49*time.Millisecond + 510*time.Microsecond},
		{"p50 of 50", fifty, 0.5, 25500 * time.Microsecond},
		{"out of range q is clamped", ms(1, 2), 1.5, 2 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := append([]time.Duration(nil), tc.ds...)
			if got := percentile(tc.ds, tc.q); got != tc.want {
				t.Errorf("percentile(%v, %v) = %v, want %v", tc.ds, tc.q, got, tc.want)
			}
			for i := range in {
				if in[i] != tc.ds[i] {
					t.Fatalf("percentile reordered its input: %v, was %v", tc.ds, in)
				}
			}
		})
	}
}

func TestLongest(t *testing.T) {
	if got := longest(nil); got != 0 {
		t.Errorf("longest(nil) = %v, want 0", got)
	}
	if got := longest([]time.Duration{3, 9, 1}); got != 9 {
		t.Errorf("longest = %v, want 9", got)
	}
}

func TestMillis(t *testing.T) {
	for d, want := range map[time.Duration]string{
		250 * time.Microsecond:   "0.250 ms",
		8500 * time.Microsecond:  "8.500 ms",
		58300 * time.Microsecond: "58.3 ms",
		583 * time.Millisecond:   "583 ms",
	} {
		if got := ms(d); got != want {
			t.Errorf("ms(%v) = %q, want %q", d, got, want)
		}
	}
}
