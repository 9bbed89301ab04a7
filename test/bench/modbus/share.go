package main

import (
	"fmt"
	"io"
	"text/tabwriter"
)

// The share scenario: 64 clients (one request outstanding each) through
// one zonegate whose clients share one device connection, against the
// same zonegate giving each client a device connection of its own
// (max_device_connections 64, max_in_flight 1), and against the default
// (one device connection, 16 requests in flight), interleaved in slices
// as in scenario cpu: requests per second, p50, p99 and the proxy's CPU
// per request, and the ratios of sharing over separate connections.

// shareVariants are the configurations scenario share compares.
var shareVariants = []variant{
	{"shared", "      max_device_connections: 1\n      max_in_flight: 64\n"},
	{"shared-default", ""},
	{"separate", "      max_device_connections: 64\n      max_in_flight: 1\n"},
}

// printShare writes scenario share's table and ratios.
func printShare(w io.Writer, tp *throughput, title string) {
	cfg := tp.cfg
	fmt.Fprintf(w, "\n%s\n(median of %d rounds of %s; FC 3 reads of 10 registers, one request outstanding per client connection)\n", title, cfg.rounds, cfg.dur)
	fmt.Fprintf(w, "shared: max_device_connections 1, max_in_flight 64; shared-default: 1 connection, 16 in flight (the defaults); separate: max_device_connections 64, max_in_flight 1\n\n")
	tp.printPaths(w)
	fmt.Fprintf(w, "\nOver separate device connections (medians; \"by round\": the CPU ratio's range within single rounds)\n\n")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "clients\tpath\tCPU per request\tby round\tp99\treq/s\t")
	for _, n := range cfg.counts {
		s := tp.med[key("separate", n)]
		for _, name := range []string{"shared", "shared-default"} {
			m := tp.med[key(name, n)]
			lo, hi := roundRatios(tp.all[key(name, n)], tp.all[key("separate", n)])
			fmt.Fprintf(tw, "%d\t%s\t%.2f\t%.2f-%.2f\t%.2f\t%.2f\t\n", n, name, cpuRatio(m, s), lo, hi, float64(m.p99)/float64(s.p99), m.rps()/s.rps())
		}
	}
	tw.Flush()
}
