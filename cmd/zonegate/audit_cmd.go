package main

import (
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/zonegate/zonegate/gateway/audit"
)

const auditUsage = `usage: zonegate audit SUBCOMMAND DIR [flags]

subcommands:
  verify DIR [--pubkey FILE] [--hmac-key FILE] [--keys DIR] [--no-hmac]
        check the log offline; exit 0 only if it is intact, 1 if not
  show DIR [--since T] [--until T] [--category C] [--action A] [--json]
        print records as a table or as JSON lines (T: RFC 3339 time,
        a date 2006-01-02, or a duration such as 24h meaning "ago")
  key DIR [--keys DIR] [--out FILE]
        print the Ed25519 public key that verifies the log's checkpoints;
        keep a copy off the gateway and pass it to verify --pubkey
  prune DIR --segments N [--keys DIR]
        remove the N oldest segments after archiving them (zonegate must
        not be running); a signed statement records the new start
`

// runAudit implements `zonegate audit`.
func runAudit(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stdout, auditUsage)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	switch args[0] {
	case "verify":
		return auditVerify(args[1:], stdout, stderr)
	case "show":
		return auditShow(args[1:], stdout, stderr)
	case "key":
		return auditKey(args[1:], stdout, stderr)
	case "prune":
		return auditPrune(args[1:], stdout, stderr)
	}
	fmt.Fprintf(stderr, "zonegate audit: unknown subcommand %q\n\n%s", args[0], auditUsage)
	return 2
}

// auditParse parses flags that may come before or after the one DIR argument.
func auditParse(fs *flag.FlagSet, args []string, stderr io.Writer) (string, bool) {
	fs.SetOutput(stderr)
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return "", false
		}
		if fs.NArg() == 0 {
			break
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
	if len(pos) != 1 {
		fmt.Fprintf(stderr, "zonegate audit %s: want exactly one log directory, got %d arguments\n", fs.Name(), len(pos))
		return "", false
	}
	return pos[0], true
}

func auditFail(stderr io.Writer, format string, args ...any) int {
	fmt.Fprintf(stderr, "zonegate audit: "+format+"\n", args...)
	return 2
}

func auditVerify(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("verify", flag.ContinueOnError)
	pubFile := fs.String("pubkey", "", "trusted copy of the public key (from `zonegate audit key`)")
	hmacFile := fs.String("hmac-key", "", "HMAC key file (default: DIR/keys/hmac.key if readable)")
	keyDir := fs.String("keys", "", "key directory (default DIR/keys)")
	noHMAC := fs.Bool("no-hmac", false, "do not check HMACs even if the key is available")
	dir, ok := auditParse(fs, args, stderr)
	if !ok {
		return 2
	}
	opts := audit.VerifyOptions{KeyDir: *keyDir, SkipHMAC: *noHMAC}
	if *pubFile != "" {
		b, err := os.ReadFile(*pubFile)
		if err != nil {
			return auditFail(stderr, "%v", err)
		}
		if opts.PublicKey, err = audit.ParsePublicKey(b); err != nil {
			return auditFail(stderr, "%s: %v", *pubFile, err)
		}
	}
	if *hmacFile != "" {
		b, err := os.ReadFile(*hmacFile)
		if err != nil {
			return auditFail(stderr, "%v", err)
		}
		k, err := hex.DecodeString(strings.TrimSpace(string(b)))
		if err != nil || len(k) != 32 {
			return auditFail(stderr, "%s: want 32 bytes as hex", *hmacFile)
		}
		opts.HMACKey = k
	}
	rep, err := audit.Verify(dir, opts)
	if err != nil {
		return auditFail(stderr, "%v", err)
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
		return 0
	}
	for _, p := range rep.Problems {
		fmt.Fprintln(stdout, "PROBLEM: "+p.String())
	}
	if rep.ProblemsDropped > 0 {
		fmt.Fprintf(stdout, "(%d more problems not shown)\n", rep.ProblemsDropped)
	}
	fmt.Fprintf(stdout, "result: NOT INTACT; first bad sequence number: %d\n", rep.FirstBad())
	return 1
}

func auditShow(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("show", flag.ContinueOnError)
	since := fs.String("since", "", "only records at or after this time")
	until := fs.String("until", "", "only records before this time")
	cat := fs.String("category", "", "only this category (account, config, service, audit, modbus)")
	act := fs.String("action", "", "only this action")
	asJSON := fs.Bool("json", false, "print JSON lines instead of a table")
	dir, ok := auditParse(fs, args, stderr)
	if !ok {
		return 2
	}
	f := audit.Filter{Category: audit.Category(*cat), Action: audit.Action(*act)}
	var err error
	if f.Since, err = auditTime(*since); err != nil {
		return auditFail(stderr, "--since: %v", err)
	}
	if f.Until, err = auditTime(*until); err != nil {
		return auditFail(stderr, "--until: %v", err)
	}
	var table *audit.TableWriter
	write := func(e audit.Entry) error { return audit.WriteJSONLine(stdout, e) }
	if !*asJSON {
		table = audit.NewTableWriter(stdout)
		write = table.Write
	}
	err = audit.Read(dir, f, write)
	if table != nil {
		table.Flush()
	}
	if errors.Is(err, audit.ErrDamaged) {
		fmt.Fprintln(stderr, "zonegate audit: warning: "+err.Error())
		return 1
	}
	if err != nil {
		return auditFail(stderr, "%v", err)
	}
	return 0
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

func auditKey(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("key", flag.ContinueOnError)
	keyDir := fs.String("keys", "", "key directory (default DIR/keys)")
	out := fs.String("out", "", "also write the public key to this file")
	dir, ok := auditParse(fs, args, stderr)
	if !ok {
		return 2
	}
	if *keyDir == "" {
		*keyDir = audit.DefaultKeyDir(dir)
	}
	pub, err := audit.LoadPublicKey(*keyDir)
	if err != nil {
		return auditFail(stderr, "%v (the key is created when zonegate first opens the log)", err)
	}
	line := audit.FormatPublicKey(pub)
	fmt.Fprintln(stdout, line)
	fmt.Fprintf(stderr, "key id %s; keep a copy off the gateway and verify with `zonegate audit verify DIR --pubkey FILE`\n", audit.KeyID(pub))
	if *out != "" {
		if err := os.WriteFile(*out, []byte(line+"\n"), 0o644); err != nil {
			return auditFail(stderr, "%v", err)
		}
	}
	return 0
}

func auditPrune(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("prune", flag.ContinueOnError)
	n := fs.Int("segments", 0, "number of oldest segments to remove")
	keyDir := fs.String("keys", "", "key directory (default DIR/keys)")
	dir, ok := auditParse(fs, args, stderr)
	if !ok {
		return 2
	}
	if *n <= 0 {
		return auditFail(stderr, "prune: --segments N is required (N > 0)")
	}
	res, err := audit.PruneDir(dir, *keyDir, *n)
	if err != nil {
		return auditFail(stderr, "prune: %v", err)
	}
	fmt.Fprintf(stdout, "removed %d segments (%d bytes): %s\nthe log now starts after record %d (signed prune statement in %s/pruned.json)\n",
		len(res.Removed), res.Bytes, strings.Join(res.Removed, ", "), res.Statement.Seq, dir)
	return 0
}
