// Package cli is what the zonegate and zonelab commands share on top of
// cobra: exit codes (usage errors exit 2, failures 1 unless a command
// says otherwise), help and usage on the right stream, single-dash long
// flags (-model as well as --model) and argument count checks with
// readable messages.
package cli

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// Exit codes common to both commands.
const (
	ExitOK      = 0
	ExitFailure = 1
	ExitUsage   = 2
)

// ExitError ends a command with Code after printing Message (when not
// empty) on standard error; Usage adds the command's usage.
type ExitError struct {
	Code    int
	Message string
	Usage   bool
}

func (e *ExitError) Error() string {
	if e.Message == "" {
		return fmt.Sprintf("exit status %d", e.Code)
	}
	return e.Message
}

// Exit ends a command with code and no further message (the command has
// said why already).
func Exit(code int) error { return &ExitError{Code: code} }

// Errorf ends a command with code and a message.
func Errorf(code int, format string, args ...any) error {
	return &ExitError{Code: code, Message: strings.TrimSpace(fmt.Sprintf(format, args...))}
}

// Usagef is a usage error: the message and the command's usage on
// standard error, exit 2.
func Usagef(format string, args ...any) error {
	return &ExitError{Code: ExitUsage, Message: strings.TrimSpace(fmt.Sprintf(format, args...)), Usage: true}
}

// Args checks that a command has between min and max positional
// arguments (max < 0: no limit); what names them in the message.
func Args(min, max int, what string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		switch {
		case len(args) < min:
			return Usagef("%s: %s missing", cmd.CommandPath(), what)
		case max >= 0 && len(args) > max:
			return Usagef("%s: unexpected argument(s): %s", cmd.CommandPath(), strings.Join(args[max:], " "))
		}
		return nil
	}
}

// Group makes cmd a command that only holds sub-commands: without one it
// prints its usage and exits 2; an unknown one is a usage error.
func Group(cmd *cobra.Command) *cobra.Command {
	cmd.Args = func(c *cobra.Command, args []string) error {
		if len(args) > 0 {
			return Usagef("%s: unknown command %q: use %s", c.CommandPath(), args[0], subNames(c))
		}
		return nil
	}
	cmd.RunE = func(c *cobra.Command, _ []string) error {
		return Usagef("%s: name a command: %s", c.CommandPath(), subNames(c))
	}
	return cmd
}

func subNames(c *cobra.Command) string {
	var names []string
	for _, s := range c.Commands() {
		if s.IsAvailableCommand() {
			names = append(names, s.Name())
		}
	}
	return strings.Join(names, ", ")
}

// Prepare sets up a root command: output streams, no cobra error
// printing, the default help and completion commands, and failures of
// every RunE as exit 1 with "PREFIX: message" (prefix is the root's name).
func Prepare(root *cobra.Command, stdout, stderr io.Writer) {
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SilenceErrors = true
	root.SilenceUsage = true
	root.InitDefaultHelpCmd()
	root.InitDefaultCompletionCmd()
	Walk(root, func(c *cobra.Command) {
		// The Use lines name the important flags themselves.
		c.DisableFlagsInUseLine = true
		c.InitDefaultHelpFlag()
		if run := c.RunE; run != nil {
			c.RunE = func(c *cobra.Command, args []string) error {
				err := run(c, args)
				var ee *ExitError
				if err == nil || errors.As(err, &ee) {
					return err
				}
				return Errorf(ExitFailure, "%s: %v", root.Name(), err)
			}
		}
	})
}

// Walk calls fn for cmd and every command below it.
func Walk(cmd *cobra.Command, fn func(*cobra.Command)) {
	fn(cmd)
	for _, c := range cmd.Commands() {
		Walk(c, fn)
	}
}

// Run executes root (prepared with Prepare) with args and returns the
// exit code: 0, the code of an ExitError, or 2 for what cobra refuses
// (unknown command or flag, bad flag value).
func Run(root *cobra.Command, args []string) int {
	root.SetArgs(LongFlags(root, args))
	cmd, err := root.ExecuteC()
	if err == nil {
		return ExitOK
	}
	stderr := root.ErrOrStderr()
	var ee *ExitError
	if errors.As(err, &ee) {
		if ee.Message != "" {
			fmt.Fprintln(stderr, ee.Message)
		}
		if ee.Usage {
			fmt.Fprintln(stderr)
			fmt.Fprint(stderr, cmd.UsageString())
		}
		return ee.Code
	}
	fmt.Fprintf(stderr, "%s: %v\n\n", cmd.CommandPath(), err)
	fmt.Fprint(stderr, cmd.UsageString())
	return ExitUsage
}

// LongFlags rewrites single-dash long flags (-model, -model=x) that name a
// flag of some command of the tree into their double-dash form, as Go's
// flag package accepted them; arguments after "--" stay as they are.
func LongFlags(root *cobra.Command, args []string) []string {
	long := map[string]bool{}
	Walk(root, func(c *cobra.Command) {
		add := func(f *pflag.Flag) { long[f.Name] = true }
		c.LocalFlags().VisitAll(add)
		c.PersistentFlags().VisitAll(add)
		c.InheritedFlags().VisitAll(add)
	})
	out := make([]string, len(args))
	copy(out, args)
	for i, a := range out {
		if a == "--" {
			break
		}
		if len(a) < 3 || a[0] != '-' || a[1] == '-' {
			continue
		}
		name, _, _ := strings.Cut(a[1:], "=")
		if len(name) > 1 && long[name] {
			out[i] = "-" + a
		}
	}
	return out
}
