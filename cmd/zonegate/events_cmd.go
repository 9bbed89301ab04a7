package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/zonegate/zonegate/cmd/internal/cli"
	"github.com/zonegate/zonegate/gateway/api"
)

// eventsCmd shows the aggregated data-plane events of the running daemon:
// denied requests, framing errors, refused connections, dropped packets,
// spoofed sources (one line per source, conduit or zone, and reason per
// aggregation interval).
func eventsCmd() *cobra.Command {
	var (
		follow bool
		asJSON bool
		since  uint64
	)
	cmd := clientCmd(&cobra.Command{
		Use:   "events [--follow] [--json] [--since SEQ]",
		Short: "aggregated security events: denied requests, dropped packets, spoofed sources",
		Long: "Shows the data-plane events of the running daemon, aggregated per source, conduit or zone, and reason " +
			"over the events.interval (default 10s): how many, first and last time, and a sample. " +
			"--follow keeps waiting for new ones (Ctrl-C to stop). Needs the viewer role.",
		Args: cli.Args(0, 0, ""),
	}, func(cmd *cobra.Command, c *api.Client, _ []string) error {
		out := cmd.OutOrStdout()
		enc := json.NewEncoder(out)
		var tw *tabwriter.Writer
		header := !asJSON
		for {
			wait := time.Duration(0)
			if follow {
				wait = api.MaxEventsWait
			}
			res, err := c.Events(cmd.Context(), since, wait)
			if err != nil {
				if follow && cmd.Context().Err() != nil {
					return nil
				}
				return err
			}
			if res.Last < since {
				since = 0 // the daemon restarted: its numbers start again
			} else {
				since = res.Last
			}
			if asJSON {
				for _, ev := range res.Events {
					if err := enc.Encode(ev); err != nil {
						return err
					}
				}
			} else if len(res.Events) > 0 || (header && !follow) {
				tw = tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
				if header {
					fmt.Fprintln(tw, "SEQ\tLAST\tKIND\tCOUNT\tSOURCE\tDESTINATION\tPORTS\tWHERE\tREASON\tSAMPLE")
					header = false
				}
				for _, ev := range res.Events {
					printEvent(tw, ev)
				}
				tw.Flush()
			}
			if !follow {
				return nil
			}
		}
	})
	cmd.Flags().BoolVarP(&follow, "follow", "f", false, "keep showing new events as they come")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one JSON object per event")
	cmd.Flags().Uint64Var(&since, "since", 0, "show only events with a sequence number above SEQ")
	return cmd
}

func printEvent(w io.Writer, ev api.Event) {
	where := ev.Conduit
	if where == "" {
		parts := []string{}
		for _, p := range []string{ev.Zone, ev.Interface, ev.Chain} {
			if p != "" {
				parts = append(parts, p)
			}
		}
		where = strings.Join(parts, "/")
	}
	kind := ev.Kind
	if ev.Monitor {
		kind += " (monitor)"
	}
	dash := func(s string) string {
		if s == "" {
			return "-"
		}
		return s
	}
	fmt.Fprintf(w, "%d\t%s\t%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\n", ev.Seq, ev.Last.Local().Format("15:04:05"), kind, ev.Count,
		dash(ev.Source), dash(ev.Destination), dash(ev.Ports), dash(where), dash(ev.Reason), dash(ev.Sample))
}
