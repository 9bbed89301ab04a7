package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/zonegate/zonegate/gateway"
	"github.com/zonegate/zonegate/gateway/api"
	"github.com/zonegate/zonegate/gateway/zone"
)

func init() {
	register("login", "log in to the running daemon; keeps a session token (0600) for the next commands", runLogin)
	register("logout", "end the session", runLogout)
	register("user", "manage accounts: init|add|list|disable|enable|delete|role|passwd|reset|unlock", runUser)
	register("push", "validate a model, show the diff, apply it; it rolls back unless confirmed in time", runPush)
	register("confirm", "make the pushed model permanent", simpleCall("confirm", "POST", "/v1/confirm", nil))
	register("rollback", "undo the pending change, or go back to an earlier version", runRollback)
	register("history", "list the kept model versions", runHistory)
	register("island", "island mode on|off: no forwarding between zones, management access stays", runIsland)
	register("status", "model version and digest, pending confirm, island mode, counters", runStatus)
}

// clientFlags parses the flags of a client command and returns a client
// with the session's token and the positional arguments, or the exit code
// to return: 2 for bad arguments, 1 when there is no valid session.
func clientFlags(name, usage string, stderr io.Writer, args []string, nargs func(int) bool, extra func(*flag.FlagSet)) (*apiClient, []string, int) {
	fs := newFlags(name, usage, stderr)
	socket := socketFlag(fs)
	if extra != nil {
		extra(fs)
	}
	if err := fs.Parse(reorder(args)); err != nil || !nargs(fs.NArg()) {
		if err == nil {
			fs.Usage()
		}
		return nil, nil, 2
	}
	c, err := authedClient(*socket, flagSet(fs, "socket"))
	if err != nil {
		return nil, nil, errorf(stderr, "%v", err)
	}
	return c, fs.Args(), 0
}

// reorder moves flags before positional arguments, so that both
// `push FILE --comment x` and `push --comment x FILE` work.
func reorder(args []string) []string {
	var flags, pos []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if strings.HasPrefix(a, "-") && len(a) > 1 {
			flags = append(flags, a)
			if !strings.Contains(a, "=") && i+1 < len(args) && !isBoolFlag(a) {
				flags = append(flags, args[i+1])
				i++
			}
			continue
		}
		pos = append(pos, a)
	}
	return append(flags, pos...)
}

func isBoolFlag(a string) bool {
	switch strings.TrimLeft(a, "-") {
	case "json", "must-change", "h", "help":
		return true
	}
	return false
}

func exactly(n int) func(int) bool { return func(k int) bool { return k == n } }

func simpleCall(name, method, path string, body any) func([]string, io.Writer, io.Writer) int {
	return func(args []string, stdout, stderr io.Writer) int {
		c, _, code := clientFlags(name, "", stderr, args, exactly(0), nil)
		if code != 0 {
			return code
		}
		var out gateway.ModelVersion
		if err := c.call(method, path, body, &out); err != nil {
			return errorf(stderr, "%v", err)
		}
		fmt.Fprintf(stdout, "confirmed: version %d (%s) is permanent\n", out.Number, out.Digest)
		return 0
	}
}

func runLogin(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("login", "USER", stderr)
	socket := socketFlag(fs)
	if err := fs.Parse(reorder(args)); err != nil || fs.NArg() != 1 {
		fs.Usage()
		return 2
	}
	user := fs.Arg(0)
	pw, err := readPassword(stderr, os.Stdin, "password for "+user+": ")
	if err != nil {
		return errorf(stderr, "%v", err)
	}
	c := newClient(*socket)
	var out struct {
		Token   string    `json:"token"`
		Expires time.Time `json:"expires"`
	}
	if err := c.call("POST", "/v1/login", map[string]string{"user": user, "password": pw}, &out); err != nil {
		return errorf(stderr, "login failed: %v", err)
	}
	if err := saveSession(session{Socket: *socket, User: user, Token: out.Token, Expires: out.Expires}); err != nil {
		return errorf(stderr, "logged in, but the session cannot be kept: %v", err)
	}
	fmt.Fprintf(stdout, "logged in as %s until %s\n", user, out.Expires.Local().Format(time.RFC1123))
	return 0
}

func runLogout(args []string, stdout, stderr io.Writer) int {
	c, _, code := clientFlags("logout", "", stderr, args, exactly(0), nil)
	if code != 0 {
		return code
	}
	err := c.call("POST", "/v1/logout", nil, nil)
	if path, perr := sessionPath(); perr == nil {
		_ = os.Remove(path)
	}
	if err != nil {
		return errorf(stderr, "%v", err)
	}
	fmt.Fprintln(stdout, "logged out")
	return 0
}

func runUser(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintln(stderr, "usage: zonegate user init|add|list|disable|enable|delete|role|passwd|reset|unlock ...")
		return 2
	}
	sub, rest := args[0], args[1:]
	if sub == "init" {
		return runUserInit(rest, stdout, stderr)
	}
	var role string
	var mustChange bool
	usage := map[string]string{
		"add": "NAME --role ROLE [--must-change]", "list": "", "disable": "NAME", "enable": "NAME", "delete": "NAME",
		"role": "NAME ROLE", "passwd": "", "reset": "NAME [--must-change]", "unlock": "NAME",
	}[sub]
	nargs := map[string]int{"add": 1, "list": 0, "disable": 1, "enable": 1, "delete": 1, "role": 2, "passwd": 0, "reset": 1, "unlock": 1}
	n, known := nargs[sub]
	if !known {
		return errorf(stderr, "unknown user command %q: use init, add, list, disable, enable, delete, role, passwd, reset or unlock", sub)
	}
	c, pos, code := clientFlags("user "+sub, usage, stderr, rest, exactly(n), func(fs *flag.FlagSet) {
		if sub == "add" {
			fs.StringVar(&role, "role", "viewer", "viewer | operator | engineer | admin")
		}
		if sub == "add" || sub == "reset" {
			fs.BoolVar(&mustChange, "must-change", false, "the user must change the password at the next login")
		}
	})
	if code != 0 {
		return code
	}
	var err error
	switch sub {
	case "list":
		var users []struct {
			Name               string    `json:"name"`
			Role               string    `json:"role"`
			Disabled           bool      `json:"disabled"`
			Locked             bool      `json:"locked"`
			MustChangePassword bool      `json:"must_change_password"`
			PasswordChanged    time.Time `json:"password_changed"`
		}
		if err = c.call("GET", "/v1/users", nil, &users); err == nil {
			tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
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
			tw.Flush()
		}
	case "add":
		var pw string
		if pw, err = newPassword(stderr, "initial password for "+pos[0]+": "); err == nil {
			err = c.call("POST", "/v1/users", map[string]any{"name": pos[0], "role": role, "password": pw, "must_change": mustChange}, nil)
		}
	case "disable", "enable", "unlock":
		err = c.call("POST", "/v1/users/"+pos[0]+"/"+sub, nil, nil)
	case "delete":
		err = c.call("DELETE", "/v1/users/"+pos[0], nil, nil)
	case "role":
		err = c.call("POST", "/v1/users/"+pos[0]+"/role", map[string]string{"role": pos[1]}, nil)
	case "reset":
		var pw string
		if pw, err = newPassword(stderr, "new password for "+pos[0]+": "); err == nil {
			err = c.call("POST", "/v1/users/"+pos[0]+"/reset", map[string]any{"password": pw, "must_change": mustChange}, nil)
		}
	case "passwd":
		var old, pw string
		if old, err = readPassword(stderr, os.Stdin, "current password: "); err == nil {
			if pw, err = newPassword(stderr, "new password: "); err == nil {
				err = c.call("POST", "/v1/password", map[string]string{"old": old, "new": pw}, nil)
			}
		}
	}
	if err != nil {
		return errorf(stderr, "%v", err)
	}
	if sub != "list" {
		fmt.Fprintf(stdout, "user %s: done\n", sub)
	}
	if sub == "passwd" {
		fmt.Fprintln(stdout, "all sessions of this user ended: log in again")
	}
	return 0
}

func runUserInit(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("user init", "[NAME]", stderr)
	socket := socketFlag(fs)
	if err := fs.Parse(reorder(args)); err != nil || fs.NArg() > 1 {
		fs.Usage()
		return 2
	}
	name := "admin"
	if fs.NArg() == 1 {
		name = fs.Arg(0)
	}
	pw, err := newPassword(stderr, "password for the first administrator "+name+": ")
	if err != nil {
		return errorf(stderr, "%v", err)
	}
	if err := newClient(*socket).call("POST", "/v1/init", map[string]string{"user": name, "password": pw}, nil); err != nil {
		return errorf(stderr, "%v", err)
	}
	fmt.Fprintf(stdout, "administrator %s created; log in with `zonegate login %s`\n", name, name)
	return 0
}

func runPush(args []string, stdout, stderr io.Writer) int {
	var within, comment string
	c, pos, code := clientFlags("push", "FILE [--confirm-within 2m] [--comment TEXT]", stderr, args, exactly(1), func(fs *flag.FlagSet) {
		fs.StringVar(&within, "confirm-within", "", "roll back unless `zonegate confirm` comes within this time (0: confirm at once; default from the settings)")
		fs.StringVar(&comment, "comment", "", "why the model changes (kept in history and the audit log)")
	})
	if code != 0 {
		return code
	}
	text, err := os.ReadFile(pos[0])
	if err != nil {
		return errorf(stderr, "%v", err)
	}
	// Check locally first, so errors name the file the user edited.
	if _, err := zone.Load(pos[0], text); err != nil {
		fmt.Fprintln(stderr, err)
		return errorf(stderr, "%s is invalid; nothing was pushed", pos[0])
	}
	var res gateway.PushResult
	if err := c.call("POST", "/v1/push", map[string]string{"model": string(text), "comment": comment, "confirm_within": within}, &res); err != nil {
		return errorf(stderr, "%v", err)
	}
	for _, w := range res.Warnings {
		fmt.Fprintln(stderr, w)
	}
	if res.Unchanged {
		fmt.Fprintf(stdout, "unchanged: version %d already runs this model (%s)\n", res.Version, res.Digest)
		return 0
	}
	fmt.Fprintf(stdout, "changes against the running model:\n")
	for _, d := range res.Diff {
		fmt.Fprintf(stdout, "  %s\n", d)
	}
	fmt.Fprintf(stdout, "applied as version %d (%s)\n", res.Version, res.Digest)
	if !res.Deadline.IsZero() {
		fmt.Fprintf(stdout, "run `zonegate confirm` before %s, or the previous model comes back by itself\n", res.Deadline.Local().Format(time.RFC1123))
	}
	return 0
}

func runRollback(args []string, stdout, stderr io.Writer) int {
	c, pos, code := clientFlags("rollback", "[VERSION]", stderr, args, func(n int) bool { return n <= 1 }, nil)
	if code != 0 {
		return code
	}
	v := 0
	if len(pos) == 1 {
		var err error
		if v, err = strconv.Atoi(strings.TrimPrefix(pos[0], "v")); err != nil {
			return errorf(stderr, "VERSION %q must be a number from `zonegate history`", pos[0])
		}
	}
	var out struct {
		Version int `json:"version"`
	}
	if err := c.call("POST", "/v1/rollback", map[string]int{"version": v}, &out); err != nil {
		return errorf(stderr, "%v", err)
	}
	if out.Version == 0 {
		fmt.Fprintln(stdout, "rolled back: no model runs; the gateway is in island mode")
	} else {
		fmt.Fprintf(stdout, "rolled back: version %d runs\n", out.Version)
	}
	return 0
}

func runHistory(args []string, stdout, stderr io.Writer) int {
	c, _, code := clientFlags("history", "", stderr, args, exactly(0), nil)
	if code != 0 {
		return code
	}
	var vs []gateway.ModelVersion
	if err := c.call("GET", "/v1/history", nil, &vs); err != nil {
		return errorf(stderr, "%v", err)
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "VERSION\tSTATE\tTIME\tUSER\tDIGEST\tCOMMENT")
	for _, v := range vs {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\n", v.Number, v.State, v.Time.Local().Format("2006-01-02 15:04:05"), v.User, shortDigest(v.Digest), v.Comment)
	}
	tw.Flush()
	return 0
}

func shortDigest(d string) string {
	if len(d) > 19 {
		return d[:19]
	}
	return d
}

func runIsland(args []string, stdout, stderr io.Writer) int {
	c, pos, code := clientFlags("island", "on|off", stderr, args, exactly(1), nil)
	if code != 0 {
		return code
	}
	if pos[0] != "on" && pos[0] != "off" {
		return errorf(stderr, "island takes on or off, not %q", pos[0])
	}
	if err := c.call("POST", "/v1/island", map[string]bool{"on": pos[0] == "on"}, nil); err != nil {
		return errorf(stderr, "%v", err)
	}
	fmt.Fprintf(stdout, "island mode %s\n", pos[0])
	return 0
}

func runStatus(args []string, stdout, stderr io.Writer) int {
	var asJSON bool
	c, _, code := clientFlags("status", "[--json]", stderr, args, exactly(0), func(fs *flag.FlagSet) {
		fs.BoolVar(&asJSON, "json", false, "print the status as JSON")
	})
	if code != 0 {
		return code
	}
	var st api.Status
	if err := c.call("GET", "/v1/status", nil, &st); err != nil {
		return errorf(stderr, "%v", err)
	}
	if asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(st)
		return 0
	}
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
	if st.Audit != nil {
		fmt.Fprintf(stdout, "audit:     %d records, %d%% full, %d lost\n", st.Audit.Seq, st.Audit.Percent, st.Audit.Lost)
	} else {
		fmt.Fprintf(stdout, "audit:     UNAVAILABLE: changes are refused\n")
	}
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
	return 0
}
