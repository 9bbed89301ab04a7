package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/zonegate/zonegate/cmd/internal/cli"
	"github.com/zonegate/zonegate/gateway/api"
	"github.com/zonegate/zonegate/gateway/console"
	"github.com/zonegate/zonegate/gateway/zone"
	"github.com/zonegate/zonegate/gateway/zone/zonedoc"
)

// The client commands talk to `zonegate serve` over its API socket with
// the session `zonegate login` kept. Wrong arguments exit 2; a missing
// session and every refusal of the daemon exit 1.

// clientCmd is a command that needs a session: run gets a client with the
// session's token.
func clientCmd(cmd *cobra.Command, run func(cmd *cobra.Command, c *api.Client, args []string) error) *cobra.Command {
	socket := socketFlag(cmd)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		c, err := authedClient(cmd, *socket)
		if err != nil {
			return err
		}
		defer c.Close()
		return run(cmd, c, args)
	}
	return cmd
}

func loginCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "login USER",
		Short: "log in to the running daemon; keeps a session token (0600) for the next commands",
		Args:  cli.Args(1, 1, "USER is"),
	}
	socket := socketFlag(cmd)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		user := args[0]
		pw, err := readPassword(cmd.ErrOrStderr(), os.Stdin, "password for "+user+": ")
		if err != nil {
			return err
		}
		c := api.NewClient(*socket)
		defer c.Close()
		out, err := c.Login(cmd.Context(), user, pw)
		if err != nil {
			return fmt.Errorf("login failed: %w", err)
		}
		if err := saveSession(session{Socket: *socket, User: user, Token: out.Token, Expires: out.Expires}); err != nil {
			return fmt.Errorf("logged in, but the session cannot be kept: %w", err)
		}
		fmt.Fprintf(cmd.OutOrStdout(), "logged in as %s until %s\n", user, out.Expires.Local().Format(time.RFC1123))
		return nil
	}
	return cmd
}

func logoutCmd() *cobra.Command {
	return clientCmd(&cobra.Command{
		Use:   "logout",
		Short: "end the session",
		Args:  cli.Args(0, 0, ""),
	}, func(cmd *cobra.Command, c *api.Client, _ []string) error {
		err := c.Logout(cmd.Context())
		if path, perr := sessionPath(); perr == nil {
			_ = os.Remove(path)
		}
		if err != nil {
			return err
		}
		fmt.Fprintln(cmd.OutOrStdout(), "logged out")
		return nil
	})
}

func userCmd() *cobra.Command {
	cmd := cli.Group(&cobra.Command{
		Use:   "user init|add|list|disable|enable|delete|role|passwd|reset|unlock ...",
		Short: "manage accounts: init|add|list|disable|enable|delete|role|passwd|reset|unlock",
	})
	done := func(cmd *cobra.Command) {
		fmt.Fprintf(cmd.OutOrStdout(), "user %s: done\n", cmd.Name())
	}
	// acted prints what a user action did: "unchanged" when the account
	// already was that way (nothing recorded), else "done".
	acted := func(cmd *cobra.Command, res api.UserActionResult) {
		if res.Unchanged {
			fmt.Fprintf(cmd.OutOrStdout(), "user %s: unchanged (%s already is that way; nothing was recorded)\n", cmd.Name(), res.User)
			return
		}
		done(cmd)
	}
	simple := func(action, short string) *cobra.Command {
		return clientCmd(&cobra.Command{Use: action + " NAME", Short: short, Args: cli.Args(1, 1, "NAME is")},
			func(cmd *cobra.Command, c *api.Client, args []string) error {
				res, err := c.UserAction(cmd.Context(), args[0], action, nil)
				if err != nil {
					return err
				}
				acted(cmd, res)
				return nil
			})
	}

	var role string
	var addMustChange, resetMustChange bool
	add := clientCmd(&cobra.Command{
		Use:   "add NAME --role ROLE [--must-change]",
		Short: "create an account; asks for its initial password",
		Args:  cli.Args(1, 1, "NAME is"),
	}, func(cmd *cobra.Command, c *api.Client, args []string) error {
		pw, err := newPassword(cmd.ErrOrStderr(), "initial password for "+args[0]+": ")
		if err != nil {
			return err
		}
		if err := c.AddUser(cmd.Context(), api.UserRequest{Name: args[0], Role: role, Password: pw, MustChange: addMustChange}); err != nil {
			return err
		}
		done(cmd)
		return nil
	})
	add.Flags().StringVar(&role, "role", "viewer", "viewer | operator | engineer | admin")
	add.Flags().BoolVar(&addMustChange, "must-change", false, "the user must change the password at the next login")

	reset := clientCmd(&cobra.Command{
		Use:   "reset NAME [--must-change]",
		Short: "set a new password for an account",
		Args:  cli.Args(1, 1, "NAME is"),
	}, func(cmd *cobra.Command, c *api.Client, args []string) error {
		pw, err := newPassword(cmd.ErrOrStderr(), "new password for "+args[0]+": ")
		if err != nil {
			return err
		}
		res, err := c.UserAction(cmd.Context(), args[0], api.ActionReset, &api.UserRequest{Password: pw, MustChange: resetMustChange})
		if err != nil {
			return err
		}
		acted(cmd, res)
		return nil
	})
	reset.Flags().BoolVar(&resetMustChange, "must-change", false, "the user must change the password at the next login")

	var listJSON bool
	list := clientCmd(&cobra.Command{
		Use:   "list [--json]",
		Short: "list the accounts",
		Args:  cli.Args(0, 0, ""),
	}, func(cmd *cobra.Command, c *api.Client, _ []string) error {
		users, err := c.Users(cmd.Context())
		if err != nil {
			return err
		}
		if listJSON {
			return printJSON(cmd.OutOrStdout(), users)
		}
		tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "USER\tROLE\tSTATE\tPASSWORD CHANGED")
		for _, u := range users {
			state := "active"
			switch {
			case u.Disabled:
				state = "disabled"
			case u.Locked:
				state = "locked"
			case u.MustChangePassword:
				state = "must change password"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", u.Name, u.Role, state, u.PasswordChanged.Local().Format("2006-01-02 15:04"))
		}
		return tw.Flush()
	})
	list.Flags().BoolVar(&listJSON, "json", false, "print the accounts as JSON (name, role, disabled, locked, must_change_password, dates)")

	del := clientCmd(&cobra.Command{
		Use:   "delete NAME",
		Short: "delete an account",
		Args:  cli.Args(1, 1, "NAME is"),
	}, func(cmd *cobra.Command, c *api.Client, args []string) error {
		if err := c.DeleteUser(cmd.Context(), args[0]); err != nil {
			return err
		}
		done(cmd)
		return nil
	})

	setRole := clientCmd(&cobra.Command{
		Use:   "role NAME ROLE",
		Short: "give an account another role (viewer | operator | engineer | admin)",
		Args:  cli.Args(2, 2, "NAME and ROLE are"),
	}, func(cmd *cobra.Command, c *api.Client, args []string) error {
		res, err := c.UserAction(cmd.Context(), args[0], api.ActionRole, &api.UserRequest{Role: args[1]})
		if err != nil {
			return err
		}
		acted(cmd, res)
		return nil
	})

	passwd := clientCmd(&cobra.Command{
		Use:   "passwd",
		Short: "change one's own password; ends all sessions of the user",
		Args:  cli.Args(0, 0, ""),
	}, func(cmd *cobra.Command, c *api.Client, _ []string) error {
		old, err := readPassword(cmd.ErrOrStderr(), os.Stdin, "current password: ")
		if err != nil {
			return err
		}
		pw, err := newPassword(cmd.ErrOrStderr(), "new password: ")
		if err != nil {
			return err
		}
		if err := c.ChangePassword(cmd.Context(), old, pw); err != nil {
			return err
		}
		done(cmd)
		fmt.Fprintln(cmd.OutOrStdout(), "all sessions of this user ended: log in again")
		return nil
	})

	cmd.AddCommand(userInitCmd(), add, list,
		simple(api.ActionDisable, "disable an account (its sessions end)"),
		simple(api.ActionEnable, "enable a disabled account"),
		del, setRole, passwd, reset,
		simple(api.ActionUnlock, "unlock an account locked after failed logins"))
	return cmd
}

func userInitCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "init [NAME]",
		Short: "create the first administrator (default name admin); only while no account exists",
		Args:  cli.Args(0, 1, ""),
	}
	socket := socketFlag(cmd)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		name := "admin"
		if len(args) == 1 {
			name = args[0]
		}
		pw, err := newPassword(cmd.ErrOrStderr(), "password for the first administrator "+name+": ")
		if err != nil {
			return err
		}
		c := api.NewClient(*socket)
		defer c.Close()
		if _, err := c.Init(cmd.Context(), name, pw); err != nil {
			return err
		}
		fmt.Fprintf(cmd.OutOrStdout(), "administrator %s created; log in with `zonegate login %s`\n", name, name)
		return nil
	}
	return cmd
}

func pushCmd() *cobra.Command {
	var within, comment, dryConfig string
	var dryRun bool
	cmd := clientCmd(&cobra.Command{
		Use:   "push FILE [--confirm-within 2m] [--comment TEXT] [--dry-run [--config FILE]]",
		Short: "validate a model, show the diff, apply it; it rolls back unless confirmed in time",
		Args:  cli.Args(1, 1, "the zone model FILE is"),
	}, func(cmd *cobra.Command, c *api.Client, args []string) error {
		stdout, stderr := cmd.OutOrStdout(), cmd.ErrOrStderr()
		text, err := os.ReadFile(args[0])
		if err != nil {
			return err
		}
		// Check locally first, so errors name the file the user edited.
		m, err := zone.Load(args[0], text)
		if err != nil {
			fmt.Fprintln(stderr, err)
			return fmt.Errorf("%s is invalid; nothing was pushed", args[0])
		}
		if dryRun {
			return pushDryRun(cmd, c, args[0], m, dryConfig)
		}
		if cmd.Flags().Changed("config") {
			return cli.Usagef("--config goes with --dry-run")
		}
		res, err := c.Push(cmd.Context(), api.PushRequest{Model: string(text), Comment: comment, ConfirmWithin: within})
		if err != nil {
			return err
		}
		for _, w := range res.Warnings {
			fmt.Fprintln(stderr, w)
		}
		if res.Unchanged {
			fmt.Fprintf(stdout, "unchanged: version %d already runs this model (%s)\n", res.Version, res.Digest)
			return nil
		}
		fmt.Fprintf(stdout, "changes against the running model:\n")
		for _, d := range res.Diff {
			fmt.Fprintf(stdout, "  %s\n", d)
		}
		fmt.Fprintf(stdout, "applied as version %d (%s)\n", res.Version, res.Digest)
		if !res.Deadline.IsZero() {
			fmt.Fprintf(stdout, "run `zonegate confirm` before %s, or the previous model comes back by itself\n", res.Deadline.Local().Format(time.RFC1123))
		}
		return nil
	})
	cmd.Flags().StringVar(&within, "confirm-within", "", "roll back unless \"zonegate confirm\" comes within this `DURATION` (0: confirm at once; default from the settings)")
	cmd.Flags().StringVar(&comment, "comment", "", "why the model changes (kept in history and the audit log)")
	// --dry-run (fleet rollouts: ansible --check --diff) changes nothing.
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "show the model and ruleset changes a push would make against the running model; change nothing")
	cmd.Flags().StringVar(&dryConfig, "config", "", "with --dry-run: the daemon settings `FILE` whose firewall options (proxy port, log group) the rulesets are compiled with")
	return cmd
}

func confirmCmd() *cobra.Command {
	return clientCmd(&cobra.Command{
		Use:   "confirm",
		Short: "make the pushed model permanent",
		Args:  cli.Args(0, 0, ""),
	}, func(cmd *cobra.Command, c *api.Client, _ []string) error {
		v, err := c.Confirm(cmd.Context())
		if err != nil {
			return err
		}
		fmt.Fprintf(cmd.OutOrStdout(), "confirmed: version %d (%s) is permanent\n", v.Number, v.Digest)
		return nil
	})
}

func rollbackCmd() *cobra.Command {
	return clientCmd(&cobra.Command{
		Use:   "rollback [VERSION]",
		Short: "undo the pending change, or go back to an earlier version",
		Args:  cli.Args(0, 1, ""),
	}, func(cmd *cobra.Command, c *api.Client, args []string) error {
		v := 0
		if len(args) == 1 {
			var err error
			if v, err = strconv.Atoi(strings.TrimPrefix(args[0], "v")); err != nil {
				return fmt.Errorf("VERSION %q must be a number from `zonegate history`", args[0])
			}
		}
		running, err := c.Rollback(cmd.Context(), v)
		if err != nil {
			return err
		}
		if running == 0 {
			fmt.Fprintln(cmd.OutOrStdout(), "rolled back: no model runs; the gateway is in island mode")
		} else {
			fmt.Fprintf(cmd.OutOrStdout(), "rolled back: version %d runs\n", running)
		}
		return nil
	})
}

func historyCmd() *cobra.Command {
	return clientCmd(&cobra.Command{
		Use:   "history",
		Short: "list the kept model versions",
		Args:  cli.Args(0, 0, ""),
	}, func(cmd *cobra.Command, c *api.Client, _ []string) error {
		vs, err := c.History(cmd.Context())
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "VERSION\tSTATE\tTIME\tUSER\tDIGEST\tCOMMENT")
		for _, v := range vs {
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\n", v.Number, v.State, v.Time.Local().Format("2006-01-02 15:04:05"), v.User, shortDigest(v.Digest), v.Comment)
		}
		return tw.Flush()
	})
}

// printJSON writes v as indented JSON.
func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func shortDigest(d string) string {
	if len(d) > 19 {
		return d[:19]
	}
	return d
}

func islandCmd() *cobra.Command {
	return clientCmd(&cobra.Command{
		Use:       "island on|off",
		Short:     "island mode on|off: no forwarding between zones, management access stays",
		Args:      cli.Args(1, 1, "on or off is"),
		ValidArgs: []string{"on", "off"},
	}, func(cmd *cobra.Command, c *api.Client, args []string) error {
		if args[0] != "on" && args[0] != "off" {
			return fmt.Errorf("island takes on or off, not %q", args[0])
		}
		if err := c.SetIsland(cmd.Context(), args[0] == "on"); err != nil {
			return err
		}
		fmt.Fprintf(cmd.OutOrStdout(), "island mode %s\n", args[0])
		return nil
	})
}

func statusCmd() *cobra.Command {
	var asJSON, diagram bool
	var format, out string
	cmd := clientCmd(&cobra.Command{
		Use:   "status [--json] [--diagram [--format svg|dot|mermaid] [--out FILE]]",
		Short: "model version and digest, pending confirm, island mode, counters",
		Long: `Show the model version and digest, a pending confirm, island mode, the audit log and
the counters.

--diagram draws the running model instead, as "zonegate diagram" does, with each
conduit's live counter (packets and bytes it has let through) on its arrow: a
conduit at 0 has carried nothing; packets between zones without a conduit are
counted in dropped_forward_ZONE of the zone they came from.`,
		Example: "  zonegate status\n  zonegate status --diagram --out zones.svg\n  zonegate status --diagram --format dot | dot -Tpdf > zones.pdf",
		Args:    cli.Args(0, 0, ""),
	}, func(cmd *cobra.Command, c *api.Client, _ []string) error {
		if diagram {
			return statusDiagram(cmd, c, format, out)
		}
		if cmd.Flags().Changed("format") || cmd.Flags().Changed("out") {
			return cli.Usagef("--format and --out go with --diagram")
		}
		st, err := c.Status(cmd.Context())
		if err != nil {
			return err
		}
		stdout := cmd.OutOrStdout()
		if asJSON {
			return printJSON(stdout, st)
		}
		printStatus(cmd, st)
		return nil
	})
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the status as JSON")
	cmd.Flags().BoolVar(&diagram, "diagram", false, "draw the running model with the conduits' live counters")
	cmd.Flags().StringVarP(&format, "format", "f", string(zonedoc.FormatSVG), "drawing format with --diagram: "+formatNames(zonedoc.DiagramFormats))
	cmd.Flags().StringVarP(&out, "out", "o", "", "with --diagram: write to `FILE` instead of stdout")
	return cmd
}

// statusDiagram draws the running model with the conduits' counters.
func statusDiagram(cmd *cobra.Command, c *api.Client, format, out string) error {
	f, err := checkFormat(format, zonedoc.DiagramFormats)
	if err != nil {
		return err
	}
	rm, err := c.Model(cmd.Context())
	if err != nil {
		return err
	}
	m, err := zone.Load(fmt.Sprintf("running model v%d", rm.Version), []byte(rm.Model))
	if err != nil {
		return fmt.Errorf("the running model v%d does not load here (is this zonegate another version than the daemon?): %w", rm.Version, err)
	}
	st, err := c.Status(cmd.Context())
	if err != nil {
		return err
	}
	if st.Digest != rm.Digest {
		fmt.Fprintf(cmd.ErrOrStderr(), "warning: the model changed while drawing (v%d, now v%d): run again for matching counters\n", rm.Version, st.Version)
	}
	data, _ := zonedoc.Diagram(m, f, zonedoc.DiagramOptions{Counters: console.ConduitCounters(m, st.Counters)})
	return writeOutput(cmd, out, data)
}

// printConsoleStatus writes the web console's lines of `zonegate status`:
// where it is and the fingerprint to compare with the browser's.
func printConsoleStatus(w io.Writer, c *api.ConsoleStatus) {
	if c == nil {
		fmt.Fprintf(w, "console:   off (console.listen)\n")
		return
	}
	kind := "from console.cert_file"
	if c.SelfSigned {
		kind = "self-signed"
	}
	fmt.Fprintf(w, "console:   %s\n", c.URL)
	fmt.Fprintf(w, "console:   certificate SHA-256 %s (%s, valid until %s)\n", c.Fingerprint, kind, c.NotAfter.Format("2006-01-02"))
}

// printTLSStatus writes the Modbus/TCP Security lines of `zonegate
// status`: the open sessions and every certificate that expires within
// 30 days.
func printTLSStatus(w io.Writer, st api.Status) {
	if len(st.ModbusTLS) == 0 {
		return
	}
	certs := 0
	for _, c := range st.ModbusTLS {
		if c.Kind != "crl" {
			certs++
		}
	}
	fmt.Fprintf(w, "mbtls:     %d open sessions, %d certificates\n", st.TLSSessions, certs)
	for _, c := range st.ModbusTLS {
		switch {
		case c.ExpiresSoon && c.Kind == "crl":
			fmt.Fprintf(w, "mbtls:     WARNING conduit %s: the CRL of %q is due for its next update %s: issue a new one and reload\n", c.Conduit, c.Subject, c.NotAfter.Format("2006-01-02"))
		case c.ExpiresSoon:
			fmt.Fprintf(w, "mbtls:     WARNING conduit %s: %s %q expires %s: renew it\n", c.Conduit, c.Kind, c.Subject, c.NotAfter.Format("2006-01-02"))
		}
	}
}

// printAuditStatus writes the audit lines of `zonegate status`.
func printAuditStatus(w io.Writer, a *api.AuditStats) {
	if a == nil {
		fmt.Fprintf(w, "audit:     UNAVAILABLE: changes are refused\n")
		return
	}
	limit := a.Limit
	switch limit {
	case "", "max_size":
		limit = "audit.max_size"
	case "filesystem":
		limit = "free space on the filesystem"
	}
	fmt.Fprintf(w, "audit:     %d records, %d%% of %s used, %s room left (bounded by %s)\n",
		a.Seq, a.Percent, byteCount(a.Capacity), byteCount(a.Room), limit)
	if a.Full {
		why := a.FullReason
		if why == "" {
			why = "no room for records"
		}
		fmt.Fprintf(w, "audit:     FULL, configuration and account changes are refused: %s\n", why)
	}
	if a.StorageWarning != "" {
		fmt.Fprintf(w, "audit:     warning: %s\n", a.StorageWarning)
	}
	if lost := a.Lost + a.LostBestEffort; lost > 0 {
		fmt.Fprintf(w, "audit:     %d records LOST since start (%d data-plane, %d best-effort)\n", lost, a.Lost, a.LostBestEffort)
	} else {
		fmt.Fprintf(w, "audit:     no records lost since start\n")
	}
}

// byteCount is n bytes in words ("512 bytes", "3.4 MiB"); a negative n
// is 0.
func byteCount(n int64) string { return zonedoc.ByteSize(uint64(max(n, 0))) }

func printStatus(cmd *cobra.Command, st api.Status) {
	stdout := cmd.OutOrStdout()
	fmt.Fprintf(stdout, "gateway:   %s\nmodel:     version %d, %s\n", st.Gateway, st.Version, st.Digest)
	if st.Pending != nil {
		fmt.Fprintf(stdout, "pending:   version %d by %s; rolls back to %d unless confirmed by %s\n", st.Pending.Version, st.Pending.User, st.Pending.Previous, st.Pending.Deadline.Local().Format(time.RFC1123))
	}
	island := "off"
	if st.Island {
		island = "ON: " + st.IslandReason
	}
	fmt.Fprintf(stdout, "island:    %s\n", island)
	fmt.Fprintf(stdout, "drift:     %d detected and repaired (%d checks)\n", st.Drift.Detected, st.Drift.Checks)
	printConsoleStatus(stdout, st.Console)
	printTLSStatus(stdout, st)
	printAuditStatus(stdout, st.Audit)
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "COUNTER\tPACKETS\tBYTES\t")
	for _, cv := range st.Counters {
		fmt.Fprintf(tw, "%s\t%d\t%d\t\n", cv.Name, cv.Packets, cv.Bytes)
	}
	tw.Flush()
	if len(st.Modbus) > 0 {
		tw = tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "MODBUS CONDUIT\tFUNCTION\tVERDICT\tREQUESTS")
		for _, m := range st.Modbus {
			fmt.Fprintf(tw, "%s\t%d\t%s\t%d\n", m.Conduit, m.Function, m.Verdict, m.Count)
		}
		tw.Flush()
	}
	if len(st.Inspected) > 0 {
		tw = tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "PROTOCOL\tCONDUIT\tREQUEST\tVERDICT\tREQUESTS")
		for _, m := range st.Inspected {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\n", m.Protocol, m.Conduit, m.Function, m.Verdict, m.Count)
		}
		tw.Flush()
	}
}
