// Command zonegate is the firmware service of an industrial zone gateway:
// it checks a zone model, plans and applies its nftables ruleset, runs the
// daemon, manages a running daemon over its API and reads the audit log.
// Each command parses its flags (cobra) and calls the packages that do the
// work.
package main

import (
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/zonegate/zonegate/cmd/internal/cli"
)

// Set at build time with -ldflags "-X main.version=... -X main.commit=...".
var (
	version = "dev"
	commit  = "unknown"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run executes the command line args and returns the exit code: 0, 1 when
// the command failed, 2 for a usage error.
func run(args []string, stdout, stderr io.Writer) int {
	return cli.Run(newRoot(stdout, stderr), args)
}

// newRoot builds the command tree.
func newRoot(stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:   "zonegate",
		Short: "zone gateway: zone model -> nftables, Modbus inspection, audit log",
		Long: `zonegate turns one declarative zone model into an nftables ruleset (deny by default
between zones, allow by exception through conduits), a Modbus/TCP inspection proxy and an
audit trail of every account and setting change.`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			// Without a command: the help, and exit 2 as before.
			_ = cmd.Help()
			return cli.Exit(cli.ExitUsage)
		},
	}
	root.Args = func(cmd *cobra.Command, args []string) error {
		if len(args) > 0 {
			return cli.Usagef("zonegate: unknown command %q (see `zonegate --help`)", args[0])
		}
		return nil
	}
	root.AddGroup(&cobra.Group{ID: "model", Title: "Zone model:"},
		&cobra.Group{ID: "daemon", Title: "Daemon:"},
		&cobra.Group{ID: "manage", Title: "Managing a running daemon:"})
	add := func(group string, cmds ...*cobra.Command) {
		for _, c := range cmds {
			c.GroupID = group
			root.AddCommand(c)
		}
	}
	add("model", checkCmd(), planCmd(), applyCmd(), newDiagramCmd(), newReportCmd())
	add("daemon", serveCmd(), modbusProxyCmd())
	add("manage", loginCmd(), logoutCmd(), userCmd(), pushCmd(), confirmCmd(), rollbackCmd(), historyCmd(), islandCmd(), statusCmd(), eventsCmd())
	root.AddCommand(auditCmd(), versionCmd())
	cli.Prepare(root, stdout, stderr)
	return root
}
