// Command apply compares `zonegate apply` with `nft -f` of the same
// ruleset on a large generated zone model (`make bench-apply`, or
// `go run ./test/bench/apply` from the module root, as root).
//
// It writes lab.GenerateModel(zones, conduits) (default 200 zones, 10,000
// conduits), renders its plan with `zonegate plan`, creates a network
// namespace and then, in rounds whose order alternates, measures:
//
//   - nft: `ip netns exec NS nft -f plan.nft` into a namespace without
//     table inet zonegate;
//   - apply: `zonegate apply --netns NS model.yaml` into the same empty
//     namespace: YAML to a verified kernel table (load, compile, one
//     transaction, read-back);
//   - reapply: the same apply again over the table it installed (the
//     kernel already holds it: read and compare only);
//   - change1: apply of the model with one conduit's port changed over
//     the table of the unchanged model;
//   - plan and check: `zonegate plan` and `zonegate check` of the model.
//
// It prints the median wall time of each over the rounds, its ratio to
// nft's median, and the peak resident set size (getrusage maxrss) of the
// zonegate and nft processes. Every round deletes the table before the
// nft and apply measurements, so both start from the same state.
//
// The namespace work takes the lock /tmp/zonegate-netns.lock (flock) for
// the whole run, as every namespace test on the shared machines does.
package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/zonegate/zonegate/test/lab"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

// sample is one timed run of a command.
type sample struct {
	wall   time.Duration
	maxRSS int64 // KiB
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("bench-apply", flag.ContinueOnError)
	fs.SetOutput(stderr)
	zones := fs.Int("zones", 200, "zones of the generated model")
	conduits := fs.Int("conduits", 10000, "conduits of the generated model")
	rounds := fs.Int("rounds", 5, "rounds; the report gives medians")
	zonegate := fs.String("zonegate", "", "zonegate binary; empty: go build ./cmd/zonegate into a temporary directory")
	lock := fs.String("lock", "/tmp/zonegate-netns.lock", "file locked (flock) while namespaces are used; empty: no lock")
	verbose := fs.Bool("v", false, "print every measurement")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	fail := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "bench-apply: "+format+"\n", a...)
		return 1
	}
	if os.Geteuid() != 0 {
		return fail("needs root for network namespaces and nftables (run as root, e.g. sudo make bench-apply)")
	}
	for _, tool := range []string{"ip", "nft"} {
		if _, err := exec.LookPath(tool); err != nil {
			return fail("%s not found: install iproute2 and nftables", tool)
		}
	}
	dir, err := os.MkdirTemp("", "zonegate-bench-apply-")
	if err != nil {
		return fail("%v", err)
	}
	defer os.RemoveAll(dir)
	bin := *zonegate
	if bin == "" {
		bin = filepath.Join(dir, "zonegate")
		if out, err := exec.Command("go", "build", "-o", bin, "./cmd/zonegate").CombinedOutput(); err != nil {
			return fail("go build ./cmd/zonegate (run from the module root): %v\n%s", err, out)
		}
	}
	model := filepath.Join(dir, "model.yaml")
	changed := filepath.Join(dir, "changed.yaml")
	plan := filepath.Join(dir, "plan.nft")
	text := lab.GenerateModel(*zones, *conduits)
	if err := os.WriteFile(model, text, 0o600); err != nil {
		return fail("%v", err)
	}
	// One conduit's port changes: c0 from tcp/10000 to tcp/9999.
	edited := bytes.Replace(text, []byte("services: [tcp/10000]"), []byte("services: [tcp/9999]"), 1)
	if bytes.Equal(edited, text) {
		return fail("could not edit conduit c0 of the generated model")
	}
	if err := os.WriteFile(changed, edited, 0o600); err != nil {
		return fail("%v", err)
	}
	if out, err := exec.Command(bin, "plan", model).Output(); err != nil {
		return fail("zonegate plan: %v", err)
	} else if err := os.WriteFile(plan, out, 0o600); err != nil {
		return fail("%v", err)
	}

	if *lock != "" {
		f, err := os.OpenFile(*lock, os.O_CREATE|os.O_RDWR, 0o666)
		if err != nil {
			return fail("open lock %s: %v", *lock, err)
		}
		defer f.Close()
		fmt.Fprintf(stdout, "waiting for %s ...\n", *lock)
		if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
			return fail("lock %s: %v", *lock, err)
		}
	}
	ns := fmt.Sprintf("zgbenchapply%d", os.Getpid())
	if out, err := exec.Command("ip", "netns", "add", ns).CombinedOutput(); err != nil {
		return fail("ip netns add %s: %v\n%s", ns, err, out)
	}
	defer exec.Command("ip", "netns", "delete", ns).Run()
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	go func() {
		<-sig
		_ = exec.Command("ip", "netns", "delete", ns).Run()
		os.Exit(1)
	}()

	clear := func() error {
		out, err := exec.Command("ip", "netns", "exec", ns, "nft", "delete", "table", "inet", "zonegate").CombinedOutput()
		if err != nil && !strings.Contains(string(out), "No such file") {
			return fmt.Errorf("nft delete table: %v: %s", err, out)
		}
		return nil
	}
	timed := func(name string, argv ...string) (sample, error) {
		cmd := exec.Command(argv[0], argv[1:]...)
		var errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = io.Discard, &errb
		start := time.Now()
		err := cmd.Run()
		s := sample{wall: time.Since(start)}
		if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
			s.maxRSS = int64(ru.Maxrss) // int32 on 32-bit ARM
		}
		if err != nil {
			return s, fmt.Errorf("%s: %v\n%s", name, err, errb.String())
		}
		if *verbose {
			fmt.Fprintf(stdout, "  %-8s %7.3f s  %6d MiB\n", name, s.wall.Seconds(), s.maxRSS/1024)
		}
		return s, nil
	}
	nft := func() (sample, error) {
		if err := clear(); err != nil {
			return sample{}, err
		}
		return timed("nft", "ip", "netns", "exec", ns, "nft", "-f", plan)
	}
	apply := func() (sample, error) {
		if err := clear(); err != nil {
			return sample{}, err
		}
		return timed("apply", bin, "apply", "--netns", ns, model)
	}
	results := map[string][]sample{}
	order := []string{"nft", "apply", "reapply", "change1", "plan", "check"}
	fmt.Fprintf(stdout, "model: %d zones, %d conduits (%d KiB of YAML, %d KiB of nft script); %d rounds in namespace %s\n",
		*zones, *conduits, len(text)/1024, fileSize(plan)/1024, *rounds, ns)
	for r := 0; r < *rounds; r++ {
		if *verbose {
			fmt.Fprintf(stdout, "round %d\n", r+1)
		}
		// nft and apply alternate which goes first; both leave the same
		// table (a test checks that), over which the others run.
		type step struct {
			name string
			fn   func() (sample, error)
		}
		steps := []step{{"nft", nft}, {"apply", apply}}
		if r%2 == 1 {
			slices.Reverse(steps)
		}
		steps = append(steps,
			step{"reapply", func() (sample, error) { return timed("reapply", bin, "apply", "--netns", ns, model) }},
			step{"change1", func() (sample, error) { return timed("change1", bin, "apply", "--netns", ns, changed) }},
			step{"plan", func() (sample, error) { return timed("plan", bin, "plan", model) }},
			step{"check", func() (sample, error) { return timed("check", bin, "check", model) }},
		)
		for _, st := range steps {
			s, err := st.fn()
			if err != nil {
				return fail("%v", err)
			}
			results[st.name] = append(results[st.name], s)
		}
	}
	base := median(results["nft"])
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "what\tmedian s\tmin s\tmax s\t× nft -f\t× nft -f paired\tpeak RSS MiB\t")
	for _, name := range order {
		ss := results[name]
		m := median(ss)
		lo, hi := minMax(ss)
		fmt.Fprintf(tw, "%s\t%.3f\t%.3f\t%.3f\t%.2f\t%.2f\t%d\t\n", name, m.Seconds(), lo.Seconds(), hi.Seconds(),
			m.Seconds()/base.Seconds(), paired(ss, results["nft"]), maxRSS(ss)/1024)
	}
	tw.Flush()
	fmt.Fprintln(stdout, "× nft -f: ratio of the medians; paired: median over rounds of the ratio to nft -f in the same round (less sensitive to load that comes and goes)")
	fmt.Fprintf(stdout, "goals (paired): apply ≤ 1.00 × nft -f (%s); plan and check ≤ 0.50 × nft -f (%s, %s)\n",
		verdict(paired(results["apply"], results["nft"]), 1), verdict(paired(results["plan"], results["nft"]), 0.5), verdict(paired(results["check"], results["nft"]), 0.5))
	return 0
}

func verdict(r, goal float64) string {
	if r <= goal {
		return fmt.Sprintf("%.2f, met", r)
	}
	return fmt.Sprintf("%.2f, missed", r)
}

// paired is the median over rounds of ss[r] / base[r].
func paired(ss, base []sample) float64 {
	rs := make([]float64, 0, len(ss))
	for i := range ss {
		if i < len(base) && base[i].wall > 0 {
			rs = append(rs, ss[i].wall.Seconds()/base[i].wall.Seconds())
		}
	}
	slices.Sort(rs)
	switch {
	case len(rs) == 0:
		return 0
	case len(rs)%2 == 1:
		return rs[len(rs)/2]
	}
	return (rs[len(rs)/2-1] + rs[len(rs)/2]) / 2
}

func median(ss []sample) time.Duration {
	ds := make([]time.Duration, len(ss))
	for i, s := range ss {
		ds[i] = s.wall
	}
	slices.Sort(ds)
	if len(ds) == 0 {
		return 0
	}
	if len(ds)%2 == 1 {
		return ds[len(ds)/2]
	}
	return (ds[len(ds)/2-1] + ds[len(ds)/2]) / 2
}

func minMax(ss []sample) (time.Duration, time.Duration) {
	lo, hi := time.Duration(1<<62), time.Duration(0)
	for _, s := range ss {
		lo, hi = min(lo, s.wall), max(hi, s.wall)
	}
	return lo, hi
}

func maxRSS(ss []sample) int64 {
	var m int64
	for _, s := range ss {
		m = max(m, s.maxRSS)
	}
	return m
}

func fileSize(path string) int64 {
	st, err := os.Stat(path)
	if errors.Is(err, os.ErrNotExist) || err != nil {
		return 0
	}
	return st.Size()
}
