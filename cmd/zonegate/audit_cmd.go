package main

import (
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/zonegate/zonegate/cmd/internal/cli"
	"github.com/zonegate/zonegate/gateway/audit"
)

// auditCmd is `zonegate audit`: tools that work offline on a copy of the
// log. Failures exit 2, and verify exits 1 for a log that is not intact.
func auditCmd() *cobra.Command {
	cmd := cli.Group(&cobra.Command{
		Use:   "audit verify|show|key|prune DIR",
		Short: "audit log tools: verify, show, key, prune (work offline on a copy of the log)",
	})
	cmd.AddCommand(auditVerifyCmd(), auditShowCmd(), auditKeyCmd(), auditPruneCmd())
	return cmd
}

// auditDir checks the one DIR argument of the audit commands.
func auditDir(cmd *cobra.Command, args []string) error {
	if len(args) != 1 {
		return cli.Usagef("zonegate audit %s: want exactly one log directory, got %d arguments", cmd.Name(), len(args))
	}
	return nil
}

func auditFail(format string, args ...any) error {
	return cli.Errorf(cli.ExitUsage, "zonegate audit: "+format, args...)
}

func auditVerifyCmd() *cobra.Command {
	var pubFile, hmacFile, keyDir, witness string
	var noHMAC bool
	cmd := &cobra.Command{
		Use:   "verify DIR [--pubkey FILE] [--witness FILE] [--hmac-key FILE] [--keys DIR] [--no-hmac]",
		Short: "check the log offline; exit 0 only if it is intact, 1 if not",
		Long: `Check the log offline; exit 0 only if it is intact, 1 if not, 2 if it cannot be checked.

--witness FILE is a copy kept off the gateway: a checkpoint.json copied earlier, or a
syslog collector's file of the exported messages with their structured data (rsyslog
%rawmsg%). The log must reach every signed checkpoint in it with the same hash: this
catches newest segments removed together with checkpoint.json and the cursors, which
the log alone cannot show. Pass --pubkey too, so that the witness's signatures are
checked with a key kept off the gateway.`,
		Args: auditDir,
		RunE: func(cmd *cobra.Command, args []string) error {
			return auditVerify(cmd.OutOrStdout(), args[0], pubFile, hmacFile, keyDir, witness, noHMAC)
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&pubFile, "pubkey", "", "trusted copy of the public key (from \"zonegate audit key\")")
	fs.StringVar(&hmacFile, "hmac-key", "", "HMAC key file (default: DIR/keys/hmac.key if readable)")
	fs.StringVar(&keyDir, "keys", "", "key directory (default DIR/keys)")
	fs.BoolVar(&noHMAC, "no-hmac", false, "do not check HMACs even if the key is available")
	fs.StringVar(&witness, "witness", "", "copy of checkpoint.json or a syslog collector's `FILE` kept off the gateway; the log must reach its signed checkpoints")
	return cmd
}

func auditVerify(stdout io.Writer, dir, pubFile, hmacFile, keyDir, witness string, noHMAC bool) error {
	opts := audit.VerifyOptions{KeyDir: keyDir, SkipHMAC: noHMAC}
	if witness != "" {
		w, err := audit.LoadWitness(witness)
		if err != nil {
			return auditFail("--witness: %v", err)
		}
		opts.Witness = w
	}
	if pubFile != "" {
		b, err := os.ReadFile(pubFile)
		if err != nil {
			return auditFail("%v", err)
		}
		if opts.PublicKey, err = audit.ParsePublicKey(b); err != nil {
			return auditFail("%s: %v", pubFile, err)
		}
	}
	if hmacFile != "" {
		b, err := os.ReadFile(hmacFile)
		if err != nil {
			return auditFail("%v", err)
		}
		k, err := hex.DecodeString(strings.TrimSpace(string(b)))
		if err != nil || len(k) != 32 {
			return auditFail("%s: want 32 bytes as hex", hmacFile)
		}
		opts.HMACKey = k
	}
	rep, err := audit.Verify(dir, opts)
	if err != nil {
		return auditFail("%v", err)
	}
	fmt.Fprintf(stdout, "audit log %s: %d segments, records %d to %d (%d records)\n", dir, rep.Segments, rep.FirstSeq, rep.LastSeq, rep.Records)
	src := "given with --pubkey"
	if rep.PublicKeyFromDir {
		src = "from the log's key directory"
	}
	fmt.Fprintf(stdout, "signed checkpoints: %d valid, signatures cover records up to %d (public key %s, %s)\n",
		rep.Checkpoints, rep.SignedThrough, rep.PublicKeyID, src)
	if rep.PrunedThrough > 0 {
		fmt.Fprintf(stdout, "pruned: records up to %d were removed with a signed prune statement\n", rep.PrunedThrough)
	}
	if rep.WitnessSeq > 0 {
		fmt.Fprintf(stdout, "witness %s: signed checkpoints up to record %d checked\n", rep.WitnessSource, rep.WitnessSeq)
	}
	if rep.HMACChecked {
		fmt.Fprintln(stdout, "HMAC: checked for every record")
	} else {
		fmt.Fprintln(stdout, "HMAC: not checked (no key; pass --hmac-key to check records after the last checkpoint)")
	}
	for _, w := range rep.Warnings {
		fmt.Fprintln(stdout, "warning: "+w)
	}
	if rep.Intact() {
		fmt.Fprintln(stdout, "result: INTACT")
		return nil
	}
	for _, p := range rep.Problems {
		fmt.Fprintln(stdout, "PROBLEM: "+p.String())
	}
	if rep.ProblemsDropped > 0 {
		fmt.Fprintf(stdout, "(%d more problems not shown)\n", rep.ProblemsDropped)
	}
	fmt.Fprintf(stdout, "result: NOT INTACT; first bad sequence number: %d\n", rep.FirstBad())
	return cli.Exit(cli.ExitFailure)
}

// auditShowFlags are the filters of audit show.
type auditShowFlags struct {
	since, until, category, action string
	json                           bool
}

func auditShowCmd() *cobra.Command {
	var f auditShowFlags
	cmd := &cobra.Command{
		Use:   "show DIR [--since T] [--until T] [--category C] [--action A] [--json]",
		Short: "print records as a table or as JSON lines",
		Long: `Print records as a table or as JSON lines. T is an RFC 3339 time, a date 2006-01-02,
or a duration such as 24h meaning "ago".`,
		Args: auditDir,
		RunE: func(cmd *cobra.Command, args []string) error {
			return auditShow(cmd.OutOrStdout(), cmd.ErrOrStderr(), args[0], f)
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&f.since, "since", "", "only records at or after this time")
	fs.StringVar(&f.until, "until", "", "only records before this time")
	fs.StringVar(&f.category, "category", "", "only this category (account, config, service, audit, modbus)")
	fs.StringVar(&f.action, "action", "", "only this action")
	fs.BoolVar(&f.json, "json", false, "print JSON lines instead of a table")
	return cmd
}

func auditShow(stdout, stderr io.Writer, dir string, fl auditShowFlags) error {
	f := audit.Filter{Category: audit.Category(fl.category), Action: audit.Action(fl.action)}
	var err error
	if f.Since, err = auditTime(fl.since); err != nil {
		return auditFail("--since: %v", err)
	}
	if f.Until, err = auditTime(fl.until); err != nil {
		return auditFail("--until: %v", err)
	}
	var table *audit.TableWriter
	write := func(e audit.Entry) error { return audit.WriteJSONLine(stdout, e) }
	if !fl.json {
		table = audit.NewTableWriter(stdout)
		write = table.Write
	}
	err = audit.Read(dir, f, write)
	if table != nil {
		table.Flush()
	}
	if errors.Is(err, audit.ErrDamaged) {
		fmt.Fprintln(stderr, "zonegate audit: warning: "+err.Error())
		return cli.Exit(cli.ExitFailure)
	}
	if err != nil {
		return auditFail("%v", err)
	}
	return nil
}

// auditTime parses an RFC 3339 time, a date, or a duration meaning "ago".
func auditTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse("2006-01-02", s); err == nil {
		return t, nil
	}
	if d, err := time.ParseDuration(s); err == nil {
		return time.Now().Add(-d), nil
	}
	return time.Time{}, fmt.Errorf("%q: want an RFC 3339 time, a date (2006-01-02) or a duration (24h)", s)
}

func auditKeyCmd() *cobra.Command {
	var keyDir, out string
	cmd := &cobra.Command{
		Use:   "key DIR [--keys DIR] [--out FILE]",
		Short: "print the Ed25519 public key that verifies the log's checkpoints",
		Long: `Print the Ed25519 public key that verifies the log's checkpoints; keep a copy off the
gateway and pass it to verify --pubkey.`,
		Args: auditDir,
		RunE: func(cmd *cobra.Command, args []string) error {
			return auditKey(cmd.OutOrStdout(), cmd.ErrOrStderr(), args[0], keyDir, out)
		},
	}
	cmd.Flags().StringVar(&keyDir, "keys", "", "key directory (default DIR/keys)")
	cmd.Flags().StringVar(&out, "out", "", "also write the public key to this file")
	return cmd
}

func auditKey(stdout, stderr io.Writer, dir, keyDir, out string) error {
	if keyDir == "" {
		keyDir = audit.DefaultKeyDir(dir)
	}
	pub, err := audit.LoadPublicKey(keyDir)
	if err != nil {
		return auditFail("%v (the key is created when zonegate first opens the log)", err)
	}
	line := audit.FormatPublicKey(pub)
	fmt.Fprintln(stdout, line)
	fmt.Fprintf(stderr, "key id %s; keep a copy off the gateway and verify with `zonegate audit verify DIR --pubkey FILE`\n", audit.KeyID(pub))
	if out != "" {
		if err := os.WriteFile(out, []byte(line+"\n"), 0o644); err != nil {
			return auditFail("%v", err)
		}
	}
	return nil
}

func auditPruneCmd() *cobra.Command {
	var n int
	var keyDir string
	cmd := &cobra.Command{
		Use:   "prune DIR --segments N [--keys DIR]",
		Short: "remove the N oldest segments after archiving them (zonegate must not be running)",
		Long: `Remove the N oldest segments after archiving them (zonegate must not be running); a
signed statement records the new start of the log.`,
		Args: auditDir,
		RunE: func(cmd *cobra.Command, args []string) error {
			return auditPrune(cmd.OutOrStdout(), args[0], keyDir, n)
		},
	}
	cmd.Flags().IntVar(&n, "segments", 0, "number of oldest segments to remove")
	cmd.Flags().StringVar(&keyDir, "keys", "", "key directory (default DIR/keys)")
	return cmd
}

func auditPrune(stdout io.Writer, dir, keyDir string, n int) error {
	if n <= 0 {
		return auditFail("prune: --segments N is required (N > 0)")
	}
	res, err := audit.PruneDir(dir, keyDir, n)
	if err != nil {
		return auditFail("prune: %v", err)
	}
	fmt.Fprintf(stdout, "removed %d segments (%d bytes): %s\nthe log now starts after record %d (signed prune statement in %s/pruned.json)\n",
		len(res.Removed), res.Bytes, strings.Join(res.Removed, ", "), res.Statement.Seq, dir)
	return nil
}
