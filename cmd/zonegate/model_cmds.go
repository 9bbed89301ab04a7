package main

import (
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/zonegate/zonegate/cmd/internal/cli"
	"github.com/zonegate/zonegate/firewall"
	"github.com/zonegate/zonegate/gateway/settings"
	"github.com/zonegate/zonegate/gateway/zone"
	"github.com/zonegate/zonegate/protocols/modbus/modbusrules"
)

// loadModel loads a model and prints its problems as FILE:LINE:COLUMN
// lines; the error it returns has been reported already (exit 1).
func loadModel(path string, stderr io.Writer) (*zone.Model, error) {
	m, err := zone.LoadFile(path)
	if err != nil {
		var ds zone.Diagnostics
		if errors.As(err, &ds) {
			fmt.Fprintln(stderr, ds.Error())
			fmt.Fprintf(stderr, "%s: %d error(s); nothing was applied\n", path, len(ds))
			return nil, cli.Exit(cli.ExitFailure)
		}
		return nil, err
	}
	return m, nil
}

func checkCmd() *cobra.Command {
	var strict, canonical, isSettings bool
	cmd := &cobra.Command{
		Use:   "check [--strict] [--canonical] FILE | check --settings FILE",
		Short: "validate and lint a zone model (or with --settings a daemon settings file): exit 0 when valid, 1 when not",
		Args:  cli.Args(1, 1, "the zone model FILE is"),
		RunE: func(cmd *cobra.Command, args []string) error {
			stdout, stderr := cmd.OutOrStdout(), cmd.ErrOrStderr()
			path := args[0]
			if isSettings {
				return checkSettings(cmd, path, strict || canonical)
			}
			m, err := loadModel(path, stderr)
			if err != nil {
				return err
			}
			warnings := m.Lint()
			for _, w := range warnings {
				fmt.Fprintln(stderr, w.String())
			}
			if canonical {
				_, _ = stdout.Write(m.Canonical())
			}
			fmt.Fprintf(stdout, "%s: valid: %d zones, %d assets, %d conduits, %d warning(s), digest %s\n",
				path, len(m.Zones), len(m.Assets), len(m.Conduits), len(warnings), m.Digest())
			if strict && len(warnings) > 0 {
				return cli.Errorf(cli.ExitFailure, "%s: --strict: %d warning(s) count as errors", path, len(warnings))
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&strict, "strict", false, "treat lint warnings as errors")
	cmd.Flags().BoolVar(&canonical, "canonical", false, "print the canonical form of the model")
	cmd.Flags().BoolVar(&isSettings, "settings", false, "FILE is a daemon settings file (zonegate serve --config): load it with the daemon's own checks")
	return cmd
}

// checkSettings is `zonegate check --settings FILE`: the daemon's own
// loading and checks, so that a settings file can be refused before it
// is installed (Ansible's template validate, an editor's hook).
func checkSettings(cmd *cobra.Command, path string, modelFlags bool) error {
	if modelFlags {
		return cli.Usagef("--strict and --canonical are for zone models, not with --settings")
	}
	if _, err := settings.Load(path); err != nil {
		fmt.Fprintln(cmd.ErrOrStderr(), err)
		return cli.Errorf(cli.ExitFailure, "%s: invalid daemon settings; the daemon would not start with them (a SIGHUP would keep the running ones)", path)
	}
	fmt.Fprintf(cmd.OutOrStdout(), "%s: valid daemon settings\n", path)
	return nil
}

// fwFlags are the ruleset options of plan and apply.
type fwFlags struct {
	island    bool
	proxyPort uint16
	logGroup  uint16
}

func (f *fwFlags) register(fs *pflag.FlagSet) {
	fs.BoolVar(&f.island, "island", false, "island mode: no forwarding between zones, management access stays")
	fs.Uint16Var(&f.proxyPort, "modbus-proxy-port", modbusrules.Protocol.DefaultPort, "local port the Modbus proxy listens on")
	fs.Uint16Var(&f.logGroup, "log-group", firewall.DefaultLogGroup, "NFLOG group that receives dropped packets")
}

func (f *fwFlags) options() firewall.Options {
	return firewall.Options{Island: f.island, Proxies: []firewall.ProxyPort{{Inspector: modbusrules.Name, Port: f.proxyPort}}, LogGroup: f.logGroup}
}

func planCmd() *cobra.Command {
	var ff fwFlags
	cmd := &cobra.Command{
		Use:   "plan [--island] [--modbus-proxy-port N] [--log-group N] FILE",
		Short: "print the nft script a zone model compiles to",
		Args:  cli.Args(1, 1, "the zone model FILE is"),
		RunE: func(cmd *cobra.Command, args []string) error {
			path := args[0]
			m, err := loadModel(path, cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			rs := firewall.Compile(m, ff.options())
			err = firewall.Render(cmd.OutOrStdout(), rs,
				fmt.Sprintf("zonegate plan for gateway %s", m.Gateway.Name),
				fmt.Sprintf("model %s, digest %s", path, m.Digest()),
				"load with `nft -f` or `zonegate apply`: both replace table inet zonegate atomically")
			if err != nil {
				return fmt.Errorf("write plan: %w", err)
			}
			return nil
		},
	}
	ff.register(cmd.Flags())
	return cmd
}

func applyCmd() *cobra.Command {
	var ff fwFlags
	var netnsName string
	cmd := &cobra.Command{
		Use:   "apply [--netns NAME] [--island] [--modbus-proxy-port N] [--log-group N] FILE",
		Short: "apply a zone model's ruleset to this network namespace",
		Args:  cli.Args(1, 1, "the zone model FILE is"),
		RunE: func(cmd *cobra.Command, args []string) error {
			stdout, stderr := cmd.OutOrStdout(), cmd.ErrOrStderr()
			path := args[0]
			m, err := loadModel(path, stderr)
			if err != nil {
				return err
			}
			// The digest is only printed: compute it while the ruleset is applied.
			digest := make(chan string, 1)
			go func() { digest <- m.Digest() }()
			target, closeNS, err := openTarget(netnsName)
			if err != nil {
				return err
			}
			defer closeNS()
			opt := ff.options()
			res, err := firewall.Apply(target, firewall.Compile(m, opt))
			if err != nil {
				return err
			}
			if !res.Changed {
				fmt.Fprintf(stdout, "%s: unchanged: table inet %s already holds this model (%s)\n", path, firewall.TableName, <-digest)
				return nil
			}
			n, err := firewall.FlushDisallowed(target, m, opt)
			if err != nil {
				fmt.Fprintf(stderr, "zonegate: warning: ruleset applied, but stale connections could not be removed: %v\n", err)
			}
			fmt.Fprintf(stdout, "%s: applied %d rules in %d sets and maps to table inet %s (%s); %d connection(s) no longer allowed were removed\n",
				path, res.Rules, res.Sets, firewall.TableName, <-digest, n)
			return nil
		},
	}
	ff.register(cmd.Flags())
	cmd.Flags().StringVar(&netnsName, "netns", "", "apply inside the named network namespace (/run/netns/NAME) instead of this one")
	return cmd
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
