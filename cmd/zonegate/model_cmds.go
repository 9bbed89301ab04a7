package main

import (
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/zonegate/zonegate/firewall"
	"github.com/zonegate/zonegate/gateway/zone"
)

func init() {
	register("check", "validate and lint a zone model: exit 0 when valid, 1 when not", runCheck)
	register("plan", "print the nft script a zone model compiles to", runPlan)
	register("apply", "apply a zone model's ruleset to this network namespace", runApply)
}

func newFlags(name, args string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: zonegate %s %s\n", name, args)
		fs.PrintDefaults()
	}
	return fs
}

// parseWithFile parses flags that may come before or after the one FILE argument.
func parseWithFile(fs *flag.FlagSet, args []string) (string, bool) {
	if err := fs.Parse(args); err != nil {
		return "", false
	}
	rest := fs.Args()
	if len(rest) >= 1 {
		if err := fs.Parse(rest[1:]); err != nil {
			return "", false
		}
		if len(fs.Args()) == 0 {
			return rest[0], true
		}
	}
	fs.Usage()
	return "", false
}

// loadModel loads a model and prints its problems as FILE:LINE:COLUMN lines.
func loadModel(path string, stderr io.Writer) (*zone.Model, bool) {
	m, err := zone.LoadFile(path)
	if err != nil {
		var ds zone.Diagnostics
		if errors.As(err, &ds) {
			fmt.Fprintln(stderr, ds.Error())
			fmt.Fprintf(stderr, "%s: %d error(s); nothing was applied\n", path, len(ds))
		} else {
			fmt.Fprintf(stderr, "zonegate: %v\n", err)
		}
		return nil, false
	}
	return m, true
}

func runCheck(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("check", "[--strict] [--canonical] FILE", stderr)
	strict := fs.Bool("strict", false, "treat lint warnings as errors")
	canonical := fs.Bool("canonical", false, "print the canonical form of the model")
	path, ok := parseWithFile(fs, args)
	if !ok {
		return 2
	}
	m, ok := loadModel(path, stderr)
	if !ok {
		return 1
	}
	warnings := m.Lint()
	for _, w := range warnings {
		fmt.Fprintln(stderr, w.String())
	}
	if *canonical {
		stdout.Write(m.Canonical())
	}
	fmt.Fprintf(stdout, "%s: valid: %d zones, %d assets, %d conduits, %d warning(s), digest %s\n",
		path, len(m.Zones), len(m.Assets), len(m.Conduits), len(warnings), m.Digest())
	if *strict && len(warnings) > 0 {
		fmt.Fprintf(stderr, "%s: --strict: %d warning(s) count as errors\n", path, len(warnings))
		return 1
	}
	return 0
}

type fwFlags struct {
	island    bool
	proxyPort uint
	logGroup  uint
}

func (f *fwFlags) register(fs *flag.FlagSet) {
	fs.BoolVar(&f.island, "island", false, "island mode: no forwarding between zones, management access stays")
	fs.UintVar(&f.proxyPort, "modbus-proxy-port", firewall.DefaultModbusProxyPort, "local port the Modbus proxy listens on")
	fs.UintVar(&f.logGroup, "log-group", firewall.DefaultLogGroup, "NFLOG group that receives dropped packets")
}

func (f *fwFlags) options() firewall.Options {
	return firewall.Options{Island: f.island, ModbusProxyPort: uint16(f.proxyPort), LogGroup: uint16(f.logGroup)}
}

func runPlan(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("plan", "[--island] [--modbus-proxy-port N] [--log-group N] FILE", stderr)
	var ff fwFlags
	ff.register(fs)
	path, ok := parseWithFile(fs, args)
	if !ok {
		return 2
	}
	m, ok := loadModel(path, stderr)
	if !ok {
		return 1
	}
	rs := firewall.Compile(m, ff.options())
	err := firewall.Render(stdout, rs,
		fmt.Sprintf("zonegate plan for gateway %s", m.Gateway.Name),
		fmt.Sprintf("model %s, digest %s", path, m.Digest()),
		"load with `nft -f` or `zonegate apply`: both replace table inet zonegate atomically")
	if err != nil {
		return errorf(stderr, "write plan: %v", err)
	}
	return 0
}

func runApply(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("apply", "[--netns NAME] [--island] [--modbus-proxy-port N] [--log-group N] FILE", stderr)
	var ff fwFlags
	ff.register(fs)
	netnsName := fs.String("netns", "", "apply inside the named network namespace (/run/netns/NAME) instead of this one")
	path, ok := parseWithFile(fs, args)
	if !ok {
		return 2
	}
	m, ok := loadModel(path, stderr)
	if !ok {
		return 1
	}
	// The digest is only printed: compute it while the ruleset is applied.
	digest := make(chan string, 1)
	go func() { digest <- m.Digest() }()
	target, closeNS, err := openTarget(*netnsName)
	if err != nil {
		return errorf(stderr, "%v", err)
	}
	defer closeNS()
	opt := ff.options()
	res, err := firewall.Apply(target, firewall.Compile(m, opt))
	if err != nil {
		return errorf(stderr, "%v", err)
	}
	if !res.Changed {
		fmt.Fprintf(stdout, "%s: unchanged: table inet %s already holds this model (%s)\n", path, firewall.TableName, <-digest)
		return 0
	}
	n, err := firewall.FlushDisallowed(target, m, opt)
	if err != nil {
		fmt.Fprintf(stderr, "zonegate: warning: ruleset applied, but stale connections could not be removed: %v\n", err)
	}
	fmt.Fprintf(stdout, "%s: applied %d rules in %d sets and maps to table inet %s (%s); %d connection(s) no longer allowed were removed\n",
		path, res.Rules, res.Sets, firewall.TableName, <-digest, n)
	return 0
}

// openTarget opens a named network namespace, or the current one.
func openTarget(name string) (firewall.Target, func(), error) {
	if name == "" {
		return firewall.Target{}, func() {}, nil
	}
	t, err := firewall.OpenNetNS(name)
	if err != nil {
		return t, nil, err
	}
	return t, func() { t.Close() }, nil
}
