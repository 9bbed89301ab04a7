// Command zonegate is the firmware service of an industrial zone gateway:
// it checks a zone model, plans and applies its nftables ruleset, and runs
// the daemon. Each subcommand parses its flags and calls the packages that
// do the work.
package main

import (
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

// Set at build time with -ldflags "-X main.version=... -X main.commit=...".
var (
	version = "dev"
	commit  = "unknown"
)

type command struct {
	summary string
	run     func(args []string, stdout, stderr io.Writer) int
}

var commands = map[string]command{}

func register(name, summary string, run func(args []string, stdout, stderr io.Writer) int) {
	commands[name] = command{summary: summary, run: run}
}

func usage(w io.Writer) {
	fmt.Fprintf(w, "usage: zonegate COMMAND [ARGS]\n\ncommands:\n")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-14s %s\n", n, commands[n].summary)
	}
	fmt.Fprintf(w, "\nRun `zonegate COMMAND -h` for the flags of a command.\n")
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stdout)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	cmd, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "zonegate: unknown command %q\n\n", args[0])
		usage(stderr)
		return 2
	}
	return cmd.run(args[1:], stdout, stderr)
}

func init() {
	register("audit", "audit log tools: verify, show, key, prune (work offline on a copy of the log)", runAudit)
	register("version", "print version, commit and architecture", func(args []string, stdout, _ io.Writer) int {
		fmt.Fprintf(stdout, "zonegate %s (commit %s, %s)\n", version, buildCommit(commit, buildSettings()), platform())
		return 0
	})
}

func errorf(stderr io.Writer, format string, args ...any) int {
	msg := fmt.Sprintf(format, args...)
	fmt.Fprintln(stderr, "zonegate: "+strings.TrimSpace(msg))
	return 1
}
