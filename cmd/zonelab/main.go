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
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/zonegate/zonegate/cmd/internal/cli"
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

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run executes the command line args and returns the exit code.
func run(args []string, stdout, stderr io.Writer) int {
	return cli.Run(newRoot(stdout, stderr), args)
}

// newRoot builds the command tree.
func newRoot(stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:   "zonelab",
		Short: "testers' tool: a namespace lab from a zone model, probed with real traffic (as root)",
		Long: `zonelab turns a zone model into a lab of network namespaces and proves with real packets
that the gateway lets through exactly what the model says.

A typical session:  zonelab run configs/example-factory.yaml   (in one terminal)
                    zonelab probe configs/example-factory.yaml (in another)

probe exits 0 when every case matches the model, 1 on a mismatch; all commands exit 2 on
bad arguments and 3 when the lab cannot be built, found or removed.`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return cli.Usagef("zonelab: unknown command %q (see `zonelab --help`)", args[0])
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, _ []string) error {
			// Without a command: the help, and exit 2 as before.
			_ = cmd.Help()
			return cli.Exit(exitUsage)
		},
	}
	root.AddCommand(upCmd(), runCmd(), probeCmd(), downCmd(), genCmd())
	cli.Prepare(root, stdout, stderr)
	return root
}

// exit turns an exit code into the error that ends a command with it.
func exit(code int) error {
	if code == exitOK {
		return nil
	}
	return cli.Exit(code)
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

func prefixFlag(fs *pflag.FlagSet, p *string) {
	fs.StringVar(p, "prefix", lab.DefaultPrefix, "lab prefix: every namespace of the lab is named PREFIX-...; pick another one to run two labs side by side")
}

func errorf(stderr io.Writer, code int, format string, args ...any) int {
	fmt.Fprintln(stderr, "zonelab: "+strings.TrimSpace(fmt.Sprintf(format, args...)))
	return code
}

func genCmd() *cobra.Command {
	var n int
	cmd := &cobra.Command{
		Use:   "gen --zones N",
		Short: "print a generated zone model with N zones (for scale runs)",
		Args:  cli.Args(0, 0, ""),
		RunE: func(cmd *cobra.Command, _ []string) error {
			b, err := lab.ScaleModel(n)
			if err != nil {
				return exit(errorf(cmd.ErrOrStderr(), exitUsage, "%v", err))
			}
			_, err = cmd.OutOrStdout().Write(b)
			return err
		},
	}
	cmd.Flags().IntVar(&n, "zones", 10, "number of zones")
	return cmd
}
