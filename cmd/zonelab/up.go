package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/zonegate/zonegate/cmd/internal/cli"
	"github.com/zonegate/zonegate/gateway/zone"
	"github.com/zonegate/zonegate/test/lab"
)

func upCmd() *cobra.Command {
	var prefix string
	cmd := &cobra.Command{
		Use:   "up MODEL [--prefix P]",
		Short: "build the namespace lab of a zone model",
		Long: `Build the namespace lab of a zone model: a gateway namespace with the model's interface
names, a host per zone and per asset.`,
		Args: cli.Args(1, 1, "the zone MODEL file is"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return exit(runUp(prefix, args[0], cmd.OutOrStdout(), cmd.ErrOrStderr()))
		},
	}
	prefixFlag(cmd.Flags(), &prefix)
	return cmd
}

func runUp(prefix, model string, stdout, stderr io.Writer) int {
	pos := []string{model}
	m, code := prepare(pos[0], prefix, stderr)
	if m == nil {
		return code
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	l, code := buildLab(ctx, m, prefix, stdout, stderr)
	if l == nil {
		return code
	}
	fmt.Fprintf(stdout, "\nnext: run zonegate in the gateway:  ip netns exec %s zonegate serve --model %s\n", l.Gateway, pos[0])
	fmt.Fprintf(stdout, "      (or use `zonelab run` instead of `zonelab up`), then probe it:  zonelab probe %s --prefix %s\n", pos[0], l.Prefix)
	fmt.Fprintf(stdout, "      remove the lab:  zonelab down --prefix %s\n", l.Prefix)
	return exitOK
}

// buildLab builds the lab and prints its summary; when interrupted while
// building it removes what was built.
func buildLab(ctx context.Context, m *zone.Model, prefix string, stdout, stderr io.Writer) (*lab.Lab, int) {
	if err := lab.CheckPrefix(prefix); err != nil {
		return nil, errorf(stderr, exitUsage, "%v", err)
	}
	fmt.Fprintf(stdout, "building lab %q for gateway %s (%s): %d zones, %d assets\n", prefix, m.Gateway.Name, m.File, len(m.Zones), len(m.Assets))
	l, err := lab.Up(m, lab.Options{Prefix: prefix})
	if err != nil {
		return nil, errorf(stderr, exitSetup, "cannot build the lab: %v", err)
	}
	if ctx.Err() != nil {
		_ = l.Down()
		return nil, errorf(stderr, exitSetup, "interrupted; the lab was removed")
	}
	fmt.Fprintln(stdout)
	if err := l.WriteSummary(stdout); err != nil {
		return nil, errorf(stderr, exitSetup, "%v", err)
	}
	return l, exitOK
}

func downCmd() *cobra.Command {
	var prefix string
	cmd := &cobra.Command{
		Use:   "down [MODEL] [--prefix P]",
		Short: "remove a lab, also one left behind by a crash",
		// MODEL is accepted for symmetry with up; the prefix alone names
		// everything, so down works even when the model file is gone.
		Args: cli.Args(0, 1, ""),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return exit(runDown(prefix, cmd.OutOrStdout(), cmd.ErrOrStderr()))
		},
	}
	prefixFlag(cmd.Flags(), &prefix)
	return cmd
}

func runDown(prefix string, stdout, stderr io.Writer) int {
	if err := lab.CheckPrefix(prefix); err != nil {
		return errorf(stderr, exitUsage, "%v", err)
	}
	if !needRoot(stderr) {
		return exitSetup
	}
	names, err := lab.Namespaces(prefix)
	if err != nil {
		return errorf(stderr, exitSetup, "%v", err)
	}
	if len(names) == 0 {
		fmt.Fprintf(stdout, "no lab with prefix %q: nothing to remove\n", prefix)
		return exitOK
	}
	if err := lab.DownPrefix(prefix); err != nil {
		return errorf(stderr, exitSetup, "%v\nsome namespaces could not be removed; see `ip netns list` and remove them with `ip netns delete NAME`", err)
	}
	fmt.Fprintf(stdout, "removed lab %q: %d namespace(s) with their links\n", prefix, len(names))
	return exitOK
}
