package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/spf13/cobra"

	"github.com/zonegate/zonegate/cmd/internal/textdiff"
	"github.com/zonegate/zonegate/firewall"
	"github.com/zonegate/zonegate/gateway/api"
	"github.com/zonegate/zonegate/gateway/inspection"
	"github.com/zonegate/zonegate/gateway/settings"
	"github.com/zonegate/zonegate/gateway/zone"
)

// pushDryRun is `zonegate push --dry-run`: what a push of m would change
// on the running gateway -- the readable model diff and the diff of the
// nft scripts -- without changing anything. The rulesets are compiled
// with the firewall options of the daemon settings in configPath (the
// defaults when ""). A pending change makes it fail as the push would.
func pushDryRun(cmd *cobra.Command, c *api.Client, path string, m *zone.Model, configPath string) error {
	stdout := cmd.OutOrStdout()
	opt, err := dryRunOptions(configPath)
	if err != nil {
		return err
	}
	st, err := c.Status(cmd.Context())
	if err != nil {
		return err
	}
	var running *zone.Model
	runningName := "no model (the gateway forwards nothing)"
	rm, err := c.Model(cmd.Context())
	var ae *api.Error
	switch {
	case errors.As(err, &ae) && ae.Status == http.StatusNotFound:
	case err != nil:
		return err
	default:
		if running, err = zone.Load(fmt.Sprintf("running model v%d", rm.Version), []byte(rm.Model)); err != nil {
			return fmt.Errorf("the running model v%d does not load here (is this zonegate another version than the daemon?): %w", rm.Version, err)
		}
		runningName = fmt.Sprintf("the running model, version %d (%s)", rm.Version, rm.Digest)
	}
	digest := m.Digest()
	fmt.Fprintf(stdout, "dry run: nothing is pushed\n")
	if running != nil && rm.Digest == digest {
		fmt.Fprintf(stdout, "unchanged: version %d already runs this model (%s)\n", rm.Version, digest)
		return pendingRefusal(st)
	}
	fmt.Fprintf(stdout, "changes against %s:\n", runningName)
	for _, d := range zone.Diff(running, m) {
		fmt.Fprintf(stdout, "  %s\n", d)
	}
	fmt.Fprintf(stdout, "a push would apply %s (%s)\n", path, digest)
	if st.Island {
		fmt.Fprintf(stdout, "note: the gateway is in island mode (%s); it stays so after a push, and the ruleset below is that of normal operation\n", st.IslandReason)
	}
	before, err := planText(running, opt)
	if err != nil {
		return err
	}
	after, err := planText(m, opt)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "ruleset changes (table inet %s):\n", firewall.TableName)
	d := textdiff.Unified(runningName, path, textdiff.Lines(before), textdiff.Lines(after), 3)
	if d == "" {
		d = "  none: the models differ only in what the ruleset does not carry\n"
	}
	_, _ = io.WriteString(stdout, d)
	return pendingRefusal(st)
}

// pendingRefusal is the error a push would meet while a change waits for
// its confirmation.
func pendingRefusal(st api.Status) error {
	if p := st.Pending; p != nil {
		return fmt.Errorf("a push would be refused now: version %d by %s waits for `zonegate confirm` until %s (confirm or roll it back first)",
			p.Version, p.User, p.Deadline.Local().Format(http.TimeFormat))
	}
	return nil
}

// dryRunOptions are the firewall options of the daemon settings in path
// (the defaults when "").
func dryRunOptions(path string) (firewall.Options, error) {
	set := settings.Default()
	if path != "" {
		var err error
		if set, err = settings.Load(path); err != nil {
			return firewall.Options{}, err
		}
	}
	return firewall.Options{Proxies: inspection.Ports(set.Firewall.ModbusProxyPort), LogGroup: set.Firewall.LogGroup}, nil
}

// planText is the nft script of m ("" for no model).
func planText(m *zone.Model, opt firewall.Options) (string, error) {
	if m == nil {
		return "", nil
	}
	var b bytes.Buffer
	if err := firewall.Render(&b, firewall.Compile(m, opt)); err != nil {
		return "", fmt.Errorf("render the ruleset: %w", err)
	}
	return b.String(), nil
}
