package lab

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"
)

// Row is a Result in the words of the probe matrix; zonelab prints it as
// a table or as JSON.
type Row struct {
	From     string `json:"from"`
	To       string `json:"to"`
	Service  string `json:"service"`
	Family   string `json:"family"` // ipv4 or ipv6
	Src      string `json:"src"`
	Dst      string `json:"dst"`
	SrcNS    string `json:"src_ns"`
	DstNS    string `json:"dst_ns"`
	Spoofed  bool   `json:"spoofed,omitempty"`
	Expected string `json:"expected"` // pass or drop; for Modbus requests response, exception or reset
	Actual   string `json:"actual"`   // pass, drop, error or skipped; for Modbus requests what came back
	Status   string `json:"status"`   // ok, mismatch or skipped
	Why      string `json:"why"`      // why the model expects this
	Note     string `json:"note,omitempty"`
}

// Row returns the result as a matrix row.
func (r Result) Row() Row {
	row := Row{From: r.From, To: r.To, Service: r.Service(), Family: fmt.Sprintf("ipv%d", r.Family()),
		Src: r.SrcAddr.String(), Dst: r.DstAddr.String(), Spoofed: r.Spoofed, Why: r.Why}
	if r.Src != nil {
		row.SrcNS = r.Src.NS
	}
	if r.Dst != nil {
		row.DstNS = r.Dst.NS
	}
	row.Expected = map[bool]string{true: "pass", false: "drop"}[r.Expect]
	row.Actual = map[bool]string{true: "pass", false: "drop"}[r.Got]
	if r.Modbus != nil {
		row.Expected = string(r.Modbus.Want)
		row.Actual = r.Detail
	}
	if r.OPCUA != nil {
		row.Expected = map[bool]string{false: "ACK", true: "ERR Bad_SecurityPolicyRejected"}[r.OPCUA.Refused]
		row.Actual = r.Detail
	}
	switch {
	case r.Skipped != "":
		row.Status, row.Actual, row.Note = "skipped", "skipped", r.Skipped
	case r.Err != "":
		row.Status, row.Actual, row.Note = "mismatch", "error", r.Err
	case r.Mismatch():
		row.Status, row.Note = "mismatch", r.Deviation
	default:
		row.Status = "ok"
	}
	return row
}

// Summary counts the results of a probe.
type Summary struct {
	Cases      int            `json:"cases"`
	OK         int            `json:"ok"`
	Mismatches int            `json:"mismatches"`
	Skipped    int            `json:"skipped"`
	SkipReason map[string]int `json:"skip_reasons,omitempty"`
	Duration   time.Duration  `json:"-"`
	Millis     int64          `json:"duration_ms"`
}

// Summarize counts results; d is how long the probe took.
func Summarize(rs []Result, d time.Duration) Summary {
	s := Summary{Cases: len(rs), Duration: d, Millis: d.Milliseconds(), SkipReason: map[string]int{}}
	for _, r := range rs {
		switch {
		case r.Skipped != "":
			s.Skipped++
			s.SkipReason[r.Skipped]++
		case r.Mismatch():
			s.Mismatches++
		default:
			s.OK++
		}
	}
	if len(s.SkipReason) == 0 {
		s.SkipReason = nil
	}
	return s
}

// WriteMatrix prints the results as an aligned table, one row per case,
// then the mismatches again with what went wrong, then a summary line.
func WriteMatrix(w io.Writer, rs []Result, d time.Duration) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "FROM\tTO\tSERVICE\tIP\tEXPECTED\tACTUAL\tRESULT\tWHY")
	for _, r := range rs {
		row := r.Row()
		status := row.Status
		if status == "mismatch" {
			status = "MISMATCH"
		}
		why := row.Why
		if row.Spoofed {
			why += fmt.Sprintf(" (from %s)", row.Src)
		}
		if row.Status == "skipped" {
			why += ": " + shortSkip(row.Note)
		}
		actual := row.Actual
		if row.Status == "skipped" {
			actual = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", row.From, row.To, row.Service, "v"+row.Family[3:],
			row.Expected, actual, status, why)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	var bad []Row
	for _, r := range rs {
		if r.Mismatch() {
			bad = append(bad, r.Row())
		}
	}
	if len(bad) > 0 {
		fmt.Fprintf(w, "\nmismatches:\n")
		for _, row := range bad {
			fmt.Fprintf(w, "  %s -> %s %s %s (%s -> %s): model expects %s, got %s (%s)", row.From, row.To, row.Service,
				row.Family, row.Src, row.Dst, row.Expected, row.Actual, row.Why)
			if row.Note != "" {
				fmt.Fprintf(w, ": %s", row.Note)
			}
			fmt.Fprintln(w)
		}
	}
	s := Summarize(rs, d)
	_, err := fmt.Fprintf(w, "\n%s\n", s)
	return err
}

// shortSkip keeps the first clause of a skip reason for the table; the
// summary line carries the rest.
func shortSkip(s string) string {
	if i := strings.Index(s, " ("); i > 0 {
		return s[:i]
	}
	return s
}

// String is the summary line, such as "82 cases: 70 ok, 0 mismatches,
// 12 skipped in 2.1s".
func (s Summary) String() string {
	line := fmt.Sprintf("%d cases: %d ok, %d mismatch(es), %d skipped in %s", s.Cases, s.OK, s.Mismatches, s.Skipped,
		s.Duration.Round(10*time.Millisecond))
	if len(s.SkipReason) > 0 {
		reasons := make([]string, 0, len(s.SkipReason))
		for r, n := range s.SkipReason {
			reasons = append(reasons, fmt.Sprintf("%d %s", n, r))
		}
		sort.Strings(reasons)
		line += " (skipped: " + strings.Join(reasons, "; ") + ")"
	}
	if s.Mismatches == 0 {
		return line + ": the gateway lets through exactly what the model says"
	}
	return line + ": the gateway does NOT do what the model says"
}

// WriteSummary prints what a lab consists of: one line per namespace
// with its role, zone and addresses.
func (l *Lab) WriteSummary(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NAMESPACE\tROLE\tZONE\tINTERFACE / ADDRESSES")
	for _, ln := range l.Links {
		addrs := "(no network: dummy link)"
		if len(ln.Addrs) > 0 {
			parts := make([]string, len(ln.Addrs))
			for i, a := range ln.Addrs {
				parts[i] = a.String()
			}
			addrs = strings.Join(parts, " ")
		}
		fmt.Fprintf(tw, "%s\tgateway %s\t%s\t%s %s\n", l.Gateway, l.Model.Gateway.Name, ln.Zone, ln.Name, addrs)
	}
	for _, h := range l.Hosts() {
		role := "zone host"
		if h.Asset != "" {
			role = "asset " + h.Asset
		}
		parts := make([]string, 0, len(h.Addrs))
		for _, a := range h.Addrs {
			p := a.String()
			if gw, ok := l.gatewayFor(h.Zone, a); ok {
				p += " via " + gw.String()
			}
			parts = append(parts, p)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", h.NS, role, h.Zone, strings.Join(parts, ", "))
	}
	return tw.Flush()
}
