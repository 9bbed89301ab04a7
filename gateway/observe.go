package gateway

import (
	"context"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/zonegate/zonegate/gateway/events"
)

// startEvents starts the data-plane event pipeline: aggregates go to the
// daemon log, to the audit log (when open) and to the ring behind
// GET /v1/events. It returns the function that stops it (flushing what
// is left).
func (d *Daemon) startEvents(ctx context.Context) func() {
	sinks := []events.Sink{&events.LogSink{Log: d.log.Named("events"), Lines: d.set.Events.LogLines}}
	if l := d.rec.Log(); l != nil {
		sinks = append(sinks, events.AuditSink{Log: l})
	}
	d.pipeline = events.New(events.Config{
		Interval: time.Duration(d.set.Events.Interval),
		MaxKeys:  d.set.Events.MaxKeys,
		Clock:    d.cfg.Clock,
		Sinks:    sinks,
	})
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		d.pipeline.Run(ctx)
	}()
	stopNflog := d.startNflog(ctx)
	return func() {
		cancel()
		stopNflog()
		wg.Wait()
	}
}

// listenNflog is events.ListenNflog; tests replace it.
var listenNflog = events.ListenNflog

// startNflog reads the ruleset's dropped packets (NFLOG group
// firewall.log_group, in the daemon's namespace) into the pipeline. Without
// NFLOG the daemon keeps running and says loudly what is missing.
func (d *Daemon) startNflog(ctx context.Context) func() {
	ctx, cancel := context.WithCancel(ctx)
	n, err := listenNflog(ctx, d.pipeline, events.NflogConfig{
		Group:  d.set.Firewall.LogGroup,
		ZoneOf: d.ifZones.ZoneOf,
		Clock:  d.cfg.Clock,
		Log:    d.log.Named("nflog"),
	})
	if err != nil {
		d.log.Error("DROPPED PACKETS ARE NOT REPORTED: cannot read the ruleset's NFLOG group; forwarding and filtering are unaffected. "+
			"Run zonegate as root (CAP_NET_ADMIN), load nfnetlink_log (modprobe nfnetlink_log; kernel CONFIG_NETFILTER_NETLINK_LOG), "+
			"and make sure no other program (ulogd) binds the group, or set firewall.log_group to a free one",
			zap.Uint16("group", d.set.Firewall.LogGroup), zap.Error(err))
		return cancel
	}
	d.nflog = n
	d.log.Info("reporting dropped packets from NFLOG", zap.Uint16("group", d.set.Firewall.LogGroup))
	return cancel
}
