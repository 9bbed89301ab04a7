// Command zonelab is the testers' tool: it makes a zone model the lab.
// `zonelab up` builds network namespaces for the model (a gateway whose
// interfaces carry the model's names, a host per zone and per asset),
// `zonelab run` also runs zonegate in the gateway until interrupted,
// `zonelab probe` proves with real traffic that what the gateway lets
// through is exactly what the model says, and `zonelab down` removes the
// lab. The work is done by package test/lab.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/zonegate/zonegate/gateway/zone"
	"github.com/zonegate/zonegate/test/lab"
)

// Exit codes.
const (
	exitOK       = 0
	exitMismatch = 1 // probe: the gateway does not do what the model says
	exitUsage    = 2 // bad flags or arguments
	exitSetup    = 3 // the lab could not be built, found or removed
)

type command struct {
	args, summary string
	run           func(args []string, stdout, stderr io.Writer) int
}

var commands = []struct {
	name string
	command
}{
	{"up", command{"MODEL [--prefix P]", "build the namespace lab of a zone model", runUp}},
	{"run", command{"MODEL [--prefix P] [--zonegate PATH]", "build the lab, run `zonegate serve` in its gateway until Ctrl-C, then remove it", runRun}},
	{"probe", command{"MODEL [--json] [--prefix P] [--timeout D] [--parallel N]", "send real traffic through a running lab and compare with the model", runProbe}},
	{"down", command{"[MODEL] [--prefix P]", "remove a lab, also one left behind by a crash", runDown}},
	{"gen", command{"--zones N", "print a generated zone model with N zones (for scale runs)", runGen}},
}

func usage(w io.Writer) {
	fmt.Fprintf(w, "usage: zonelab COMMAND [ARGS]   (as root)\n\ncommands:\n")
	for _, c := range commands {
		fmt.Fprintf(w, "  %-6s %-58s\n         %s\n", c.name, c.args, c.summary)
	}
	fmt.Fprintf(w, "\nA typical session:  zonelab run configs/example-factory.yaml   (in one terminal)\n")
	fmt.Fprintf(w, "                    zonelab probe configs/example-factory.yaml (in another)\n")
	fmt.Fprintf(w, "\nprobe exits 0 when every case matches the model, 1 on a mismatch; all commands exit 2 on\n")
	fmt.Fprintf(w, "bad arguments and 3 when the lab cannot be built, found or removed.\n")
	fmt.Fprintf(w, "Run `zonelab COMMAND -h` for the flags of a command.\n")
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stdout)
		if len(args) == 0 {
			return exitUsage
		}
		return exitOK
	}
	for _, c := range commands {
		if c.name == args[0] {
			return c.run(args[1:], stdout, stderr)
		}
	}
	fmt.Fprintf(stderr, "zonelab: unknown command %q\n\n", args[0])
	usage(stderr)
	return exitUsage
}

func newFlags(name, args string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: zonelab %s %s\n", name, args)
		fs.PrintDefaults()
	}
	return fs
}

// parse parses flags that may come before or after the positional
// arguments, and checks that there are between min and max of those.
func parse(fs *flag.FlagSet, args []string, min, max int) ([]string, bool) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, false
		}
		args = fs.Args()
		if len(args) == 0 {
			break
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
	switch {
	case len(pos) < min:
		fmt.Fprintf(fs.Output(), "zonelab %s: the zone model file is missing\n", fs.Name())
	case len(pos) > max:
		fmt.Fprintf(fs.Output(), "zonelab %s: unexpected argument(s): %s\n", fs.Name(), strings.Join(pos[max:], " "))
	default:
		return pos, true
	}
	fs.Usage()
	return nil, false
}

// loadModel loads a zone model and prints its problems as
// FILE:LINE:COLUMN lines.
func loadModel(path string, stderr io.Writer) (*zone.Model, bool) {
	m, err := zone.LoadFile(path)
	if err != nil {
		var ds zone.Diagnostics
		if errors.As(err, &ds) {
			fmt.Fprintln(stderr, ds.Error())
			fmt.Fprintf(stderr, "%s: %d error(s); fix them (`zonegate check %s` lists them too) and try again\n", path, len(ds), path)
		} else {
			fmt.Fprintf(stderr, "zonelab: %v\n", err)
		}
		return nil, false
	}
	return m, true
}

// needRoot reports (and explains) when the caller is not root.
// prepare loads the model and checks the prefix and root, as every
// command that touches a lab does first. It returns the exit code to end
// with, or exitOK.
func prepare(modelPath, prefix string, stderr io.Writer) (*zone.Model, int) {
	m, ok := loadModel(modelPath, stderr)
	if !ok {
		return nil, exitUsage
	}
	if err := lab.CheckPrefix(prefix); err != nil {
		return nil, errorf(stderr, exitUsage, "%v", err)
	}
	if !needRoot(stderr) {
		return nil, exitSetup
	}
	return m, exitOK
}

func needRoot(stderr io.Writer) bool {
	if os.Geteuid() == 0 {
		return true
	}
	fmt.Fprintf(stderr, "zonelab: %v: run it as root, e.g. `sudo zonelab ...`\n", lab.ErrNotRoot)
	return false
}

func prefixFlag(fs *flag.FlagSet) *string {
	return fs.String("prefix", lab.DefaultPrefix, "lab prefix: every namespace of the lab is named PREFIX-...; pick another one to run two labs side by side")
}

func errorf(stderr io.Writer, code int, format string, args ...any) int {
	fmt.Fprintln(stderr, "zonelab: "+strings.TrimSpace(fmt.Sprintf(format, args...)))
	return code
}

func runGen(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("gen", "--zones N", stderr)
	n := fs.Int("zones", 10, "number of zones")
	if _, ok := parse(fs, args, 0, 0); !ok {
		return exitUsage
	}
	b, err := lab.ScaleModel(*n)
	if err != nil {
		return errorf(stderr, exitUsage, "%v", err)
	}
	stdout.Write(b)
	return exitOK
}
