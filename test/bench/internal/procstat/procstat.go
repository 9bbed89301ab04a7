// Package procstat reads what the benchmarks measure of a process from
// /proc: the CPU time of all its threads, and percentiles of latencies.
package procstat

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// CPUTime is the run time of every thread of process pid (0: this
// process), the sum of the first field of /proc/PID/task/*/schedstat.
// Threads that end while it reads are left out.
func CPUTime(pid int) time.Duration {
	dir := "/proc/self/task"
	if pid != 0 {
		dir = fmt.Sprintf("/proc/%d/task", pid)
	}
	paths, _ := filepath.Glob(dir + "/*/schedstat")
	var sum time.Duration
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		if f := strings.Fields(string(b)); len(f) > 0 {
			ns, _ := strconv.ParseInt(f[0], 10, 64)
			sum += time.Duration(ns)
		}
	}
	return sum
}

// Percentile returns the p-quantile (0 to 1) of d, which it leaves
// unsorted; d must not be empty.
func Percentile(d []time.Duration, p float64) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[min(len(s)-1, int(p*float64(len(s))))]
}
