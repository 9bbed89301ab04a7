package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/zonegate/zonegate/cmd/internal/cli"
	"github.com/zonegate/zonegate/firewall"
	"github.com/zonegate/zonegate/gateway/zone"
	"github.com/zonegate/zonegate/protocols/modbus/modbusrules"
	"github.com/zonegate/zonegate/test/lab"
)

// probeReport is the --json output.
type probeReport struct {
	Model   string      `json:"model"`
	Digest  string      `json:"digest"`
	Prefix  string      `json:"prefix"`
	Gateway string      `json:"gateway_ns"`
	Ruleset string      `json:"ruleset"` // "model" or "differs"
	Summary lab.Summary `json:"summary"`
	Results []lab.Row   `json:"results"`
}

// probeOpts are the flags of probe.
type probeOpts struct {
	prefix        string
	json          bool
	timeout, wait time.Duration
	parallel      int
	proxyPort     uint16
}

func probeCmd() *cobra.Command {
	var o probeOpts
	cmd := &cobra.Command{
		Use:   "probe MODEL [--json] [--prefix P] [--timeout D] [--parallel N] [--wait D]",
		Short: "send real traffic through a running lab and compare with the model",
		Long: `Send real traffic through a running lab: every conduit service (expect pass) and the
reverse direction, the neighbouring port, every zone pair without a conduit, a spoofed source,
IPv6 (expect drop); for Modbus conduits an allowed read and a denied write. Exit 1 on a mismatch.`,
		Args: cli.Args(1, 1, "the zone MODEL file is"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return exit(runProbe(o, args[0], cmd.OutOrStdout(), cmd.ErrOrStderr()))
		},
	}
	fs := cmd.Flags()
	prefixFlag(fs, &o.prefix)
	fs.BoolVar(&o.json, "json", false, "print machine-readable results")
	fs.DurationVar(&o.timeout, "timeout", time.Second, "per case: how long to wait for an answer (a dropped case costs this long)")
	fs.IntVar(&o.parallel, "parallel", 128, "cases in flight at once")
	fs.DurationVar(&o.wait, "wait", 0, "wait up to `duration` for the lab and its zonegate ruleset to appear (for scripts that start zonelab run in the background)")
	fs.Uint16Var(&o.proxyPort, "modbus-proxy-port", 0, "the gateway's Modbus proxy port (default: read from the gateway's ruleset, else 5020)")
	return cmd
}

func runProbe(o probeOpts, model string, stdout, stderr io.Writer) int {
	pos := []string{model}
	if o.timeout <= 0 || o.parallel <= 0 {
		return errorf(stderr, exitUsage, "--timeout and --parallel must be positive")
	}
	m, code := prepare(pos[0], o.prefix, stderr)
	if m == nil {
		return code
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	l, fp, err := attach(ctx, m, o.prefix, o.wait)
	if err != nil {
		return errorf(stderr, exitSetup, "%v", err)
	}
	port := o.proxyPort
	if port == 0 {
		port = l.ModbusProxyPort()
	}
	want := firewall.Expected(firewall.Compile(m, firewall.Options{Proxies: []firewall.ProxyPort{{Inspector: modbusrules.Name, Port: port}}}))
	rulesetState := "model"
	if !want.Equal(fp) {
		rulesetState = "differs"
		fmt.Fprintf(stderr, "note: table inet %s in %s is not what %s compiles to (other zonegate options, another model, or a hand edit);\n"+
			"      the probe shows what that changes. Compare `ip netns exec %s nft list table inet %s` with `zonegate plan %s`.\n",
			firewall.TableName, l.Gateway, pos[0], l.Gateway, firewall.TableName, pos[0])
	}

	start := time.Now()
	results, err := l.Probe(ctx, l.Cases(), lab.ProbeOptions{Timeout: o.timeout, Parallel: o.parallel, ProxyPort: port})
	elapsed := time.Since(start)
	if err != nil {
		return errorf(stderr, exitSetup, "probe: %v", err)
	}
	sum := lab.Summarize(results, elapsed)
	if o.json {
		rep := probeReport{Model: pos[0], Digest: m.Digest(), Prefix: l.Prefix, Gateway: l.Gateway, Ruleset: rulesetState, Summary: sum}
		for _, r := range results {
			rep.Results = append(rep.Results, r.Row())
		}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			return errorf(stderr, exitSetup, "%v", err)
		}
	} else {
		fmt.Fprintf(stdout, "probing lab %q (gateway %s in %s) against %s\n\n", l.Prefix, m.Gateway.Name, l.Gateway, pos[0])
		if err := lab.WriteMatrix(stdout, results, elapsed); err != nil {
			return errorf(stderr, exitSetup, "%v", err)
		}
	}
	if sum.Mismatches > 0 {
		return exitMismatch
	}
	return exitOK
}

// attach finds the running lab of m and reads the gateway's ruleset,
// retrying for up to wait.
func attach(ctx context.Context, m *zone.Model, prefix string, wait time.Duration) (*lab.Lab, firewall.Fingerprint, error) {
	deadline := time.Now().Add(wait)
	for {
		l, fp, err := attachOnce(m, prefix)
		if err == nil || time.Now().After(deadline) {
			return l, fp, err
		}
		select {
		case <-ctx.Done():
			return nil, nil, errors.New("interrupted while waiting for the lab")
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func attachOnce(m *zone.Model, prefix string) (*lab.Lab, firewall.Fingerprint, error) {
	l, err := lab.Attach(m, lab.Options{Prefix: prefix})
	if err != nil {
		return nil, nil, err
	}
	target, err := firewall.OpenNetNS(l.Gateway)
	if err != nil {
		return nil, nil, err
	}
	defer target.Close()
	fp, err := firewall.Current(target)
	if err != nil {
		return nil, nil, fmt.Errorf("read the ruleset of %s: %w", l.Gateway, err)
	}
	if fp == nil {
		return nil, nil, fmt.Errorf("the gateway namespace %s has no table inet %s, so there is nothing to probe: run zonegate in it (`zonelab run MODEL --prefix %s` instead of `zonelab up`, or `ip netns exec %s zonegate serve --model MODEL`)",
			l.Gateway, firewall.TableName, prefix, l.Gateway)
	}
	return l, fp, nil
}
