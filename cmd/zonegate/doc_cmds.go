package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/zonegate/zonegate/cmd/internal/cli"
	"github.com/zonegate/zonegate/gateway/zone"
	"github.com/zonegate/zonegate/gateway/zone/zonedoc"
)

// The drawing and report commands. Exit codes: 0 done, 1 invalid model
// or nothing could be written, 2 usage error.

func usageError(format string, args ...any) error { return cli.Usagef(format, args...) }

func failure(format string, args ...any) error { return cli.Errorf(cli.ExitFailure, format, args...) }

// modelArg checks for exactly one MODEL argument.
func modelArg(_ *cobra.Command, args []string) error {
	if len(args) != 1 {
		return usageError("expected one MODEL file, got %d arguments", len(args))
	}
	return nil
}

func formatNames(fs []zonedoc.Format) string {
	s := make([]string, len(fs))
	for i, f := range fs {
		s[i] = string(f)
	}
	return strings.Join(s, ", ")
}

// checkFormat returns f when it is one of allowed, or a usage error.
func checkFormat(f string, allowed []zonedoc.Format) (zonedoc.Format, error) {
	if !slices.Contains(allowed, zonedoc.Format(f)) {
		return "", usageError("unknown --format %q: use one of %s", f, formatNames(allowed))
	}
	return zonedoc.Format(f), nil
}

// loadDocModel loads a model and, when it is invalid, prints the same
// FILE:LINE:COLUMN diagnostics as `zonegate check`.
func loadDocModel(cmd *cobra.Command, path string) (*zone.Model, error) {
	m, err := zone.LoadFile(path)
	if err == nil {
		return m, nil
	}
	var ds zone.Diagnostics
	if errors.As(err, &ds) {
		w := cmd.ErrOrStderr()
		fmt.Fprintln(w, ds.Error())
		fmt.Fprintf(w, "%s: %d error(s); nothing was written: fix the model (zonegate check %s) and run again\n", path, len(ds), path)
		return nil, cli.Exit(cli.ExitFailure) // the diagnostics are printed
	}
	return nil, failure("%v", err)
}

// writeOutput writes data to stdout, or to path through a temporary file
// renamed into place, so a failed run never leaves a partial file.
func writeOutput(cmd *cobra.Command, path string, data []byte) error {
	if path == "" || path == "-" {
		if _, err := cmd.OutOrStdout().Write(data); err != nil {
			return failure("write to stdout: %v", err)
		}
		return nil
	}
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return failure("write %s: %v: check that the directory exists and is writable", path, err)
	}
	_, err = tmp.Write(data)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp.Name(), 0o644)
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return failure("write %s: %v", path, err)
	}
	return nil
}

// named puts the command's path before the message of an error, as the
// other commands' messages have it ("zonegate report: ...").
func named(run func(*cobra.Command, []string) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		err := run(cmd, args)
		var ee *cli.ExitError
		if errors.As(err, &ee) && ee.Message != "" && !strings.HasPrefix(ee.Message, cmd.CommandPath()+": ") {
			ee.Message = cmd.CommandPath() + ": " + ee.Message
		}
		return err
	}
}

func newDiagramCmd() *cobra.Command {
	var format, out string
	cmd := &cobra.Command{
		Use:   "diagram MODEL",
		Short: "Draw the zone model as a zone and conduit diagram",
		Long: `Draw the zone model as a zone and conduit diagram (IEC 62443-3-2; METI
factory guideline step 1): zones grouped and coloured by importance with
their interfaces, networks and assets, management zones marked, conduits as
arrows labelled with their services and Modbus policy, the gateway name and
model digest in the title.

Formats: svg (laid out by zonegate, no Graphviz needed), dot (for Graphviz:
dot -Tpdf), mermaid (a flowchart for Markdown and wikis). The same model
always gives the same bytes.

Exit status: 0 written, 1 invalid model (FILE:LINE:COLUMN errors as from
zonegate check; nothing is written) or output not writable, 2 usage error.`,
		Example:       "  zonegate diagram configs/example-factory.yaml --out zones.svg\n  zonegate diagram --format mermaid configs/example-factory.yaml",
		Args:          named(modelArg),
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE: named(func(cmd *cobra.Command, args []string) error {
			f, err := checkFormat(format, zonedoc.DiagramFormats)
			if err != nil {
				return err
			}
			m, err := loadDocModel(cmd, args[0])
			if err != nil {
				return err
			}
			data, _ := zonedoc.Diagram(m, f, zonedoc.DiagramOptions{})
			return writeOutput(cmd, out, data)
		}),
	}
	cmd.Flags().StringVarP(&format, "format", "f", string(zonedoc.FormatSVG), "output format: "+formatNames(zonedoc.DiagramFormats))
	cmd.Flags().StringVarP(&out, "out", "o", "", "write to `FILE` instead of stdout")
	return cmd
}

func newReportCmd() *cobra.Command {
	var format, out, date string
	cmd := &cobra.Command{
		Use:   "report MODEL",
		Short: "Write the zone and conduit documentation report",
		Long: `Write the zone model up as a documentation report: gateway, model digest
and date; the zone and conduit drawing; tables of zones (importance, SL-T,
owner, interfaces, networks, assets), conduits (services, Modbus policy in
words) and zone pairs; every lint finding with its rule; and which METI
guideline steps and IEC 62443-3-2 requirements the report documents.

Formats: html (default; one self-contained file with the drawing embedded,
nothing loaded from elsewhere), markdown (with the drawing as a Mermaid block).

The report's date is --date, or else the model file's modification time, so
the same file gives the same report.

Exit status: 0 written, 1 invalid model (FILE:LINE:COLUMN errors as from
zonegate check; nothing is written) or output not writable, 2 usage error.`,
		Example:       "  zonegate report configs/example-factory.yaml --out line3-zones.html\n  zonegate report --format markdown --date 2026-12-01 configs/example-factory.yaml",
		Args:          named(modelArg),
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE: named(func(cmd *cobra.Command, args []string) error {
			f, err := checkFormat(format, zonedoc.ReportFormats)
			if err != nil {
				return err
			}
			var day time.Time
			if date != "" {
				if day, err = time.Parse("2006-01-02", date); err != nil {
					return usageError("--date %q is not a date: write YYYY-MM-DD, such as 2026-12-01", date)
				}
			}
			m, err := loadDocModel(cmd, args[0])
			if err != nil {
				return err
			}
			if date == "" {
				st, err := os.Stat(args[0])
				if err != nil {
					return failure("read zone model: %v", err)
				}
				day = st.ModTime()
			}
			data, _ := zonedoc.Report(m, f, zonedoc.ReportOptions{Date: day})
			return writeOutput(cmd, out, data)
		}),
	}
	cmd.Flags().StringVarP(&format, "format", "f", string(zonedoc.FormatHTML), "output format: "+formatNames(zonedoc.ReportFormats))
	cmd.Flags().StringVarP(&out, "out", "o", "", "write to `FILE` instead of stdout")
	cmd.Flags().StringVar(&date, "date", "", "date printed in the report, `YYYY-MM-DD` (default: the model file's modification time)")
	return cmd
}
