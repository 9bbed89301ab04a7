package events

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync/atomic"
	"time"

	nflog "github.com/florianl/go-nflog/v2"
	"go.uber.org/zap"

	"github.com/zonegate/zonegate/gateway/internal/clock"
)

// NflogConfig configures ListenNflog.
type NflogConfig struct {
	// Group is the NFLOG group of the ruleset's drop rules
	// (firewall.log_group).
	Group uint16
	// ZoneOf returns the zone of an ingress interface ("" if none).
	ZoneOf func(iface string) string
	Clock  clock.Clock
	Log    *zap.Logger
}

// Nflog reads the packets the ruleset drops from an NFLOG group in the
// daemon's network namespace and records them in a pipeline.
type Nflog struct {
	nf      *nflog.Nflog
	cfg     NflogConfig
	p       *Pipeline
	ifnames map[uint32]string // the reading goroutine's own cache
	flushed time.Time
	packets atomic.Uint64
	errors  atomic.Uint64
	other   atomic.Uint64 // logged packets that are not zonegate's drops
}

// ListenNflog starts reading group cfg.Group into p until ctx ends. An
// error means dropped packets are not reported (no permission, a kernel
// without nfnetlink_log, another reader on the group); the caller logs it
// and keeps running.
func ListenNflog(ctx context.Context, p *Pipeline, cfg NflogConfig) (*Nflog, error) {
	if cfg.Clock == nil {
		cfg.Clock = clock.Real()
	}
	if cfg.Log == nil {
		cfg.Log = zap.NewNop()
	}
	if cfg.ZoneOf == nil {
		cfg.ZoneOf = func(string) string { return "" }
	}
	nf, err := nflog.Open(&nflog.Config{Group: cfg.Group, Copymode: nflog.CopyPacket, Bufsize: 128})
	if err != nil {
		return nil, fmt.Errorf("open NFLOG (netlink netfilter socket): %w", err)
	}
	n := &Nflog{nf: nf, cfg: cfg, p: p, ifnames: map[uint32]string{}}
	lastErr := time.Time{}
	errfn := func(e error) int {
		if ctx.Err() != nil {
			return 1
		}
		n.errors.Add(1)
		var ne net.Error
		if errors.As(e, &ne) && ne.Timeout() {
			return 0
		}
		// ENOBUFS under a flood: packets were lost to the socket buffer.
		if now := time.Now(); now.Sub(lastErr) > 10*time.Second {
			lastErr = now
			cfg.Log.Warn("reading dropped packets from NFLOG failed; some are not reported", zap.Uint16("group", cfg.Group), zap.Error(e))
		}
		return 0
	}
	if err := nf.RegisterWithErrorFunc(ctx, n.hook, errfn); err != nil {
		nf.Close()
		return nil, fmt.Errorf("bind NFLOG group %d: %w", cfg.Group, err)
	}
	go func() {
		<-ctx.Done()
		nf.Close()
	}()
	return n, nil
}

// hook records one logged packet.
func (n *Nflog) hook(a nflog.Attribute) int {
	n.packets.Add(1)
	if a.Prefix == nil || a.Payload == nil {
		n.other.Add(1)
		return 0
	}
	var ev Event
	if !classify(*a.Prefix, &ev) || !Decode(*a.Payload, &ev) {
		n.other.Add(1)
		return 0
	}
	now := n.cfg.Clock.Now()
	ev.Time = now
	if a.InDev != nil {
		ev.Interface = n.ifname(*a.InDev, now)
		ev.Zone = n.cfg.ZoneOf(ev.Interface)
	}
	n.p.Record(&ev)
	return 0
}

// ifname returns the name of interface index i; the cache is dropped
// every minute so that renamed or re-created interfaces are seen.
func (n *Nflog) ifname(i uint32, now time.Time) string {
	if now.Sub(n.flushed) > time.Minute {
		clear(n.ifnames)
		n.flushed = now
	}
	if name, ok := n.ifnames[i]; ok {
		return name
	}
	name := ""
	if ifc, err := net.InterfaceByIndex(int(i)); err == nil {
		name = ifc.Name
	}
	n.ifnames[i] = name
	return name
}

// NflogStats are the reader's counters.
type NflogStats struct {
	Packets uint64 // logged packets received
	Foreign uint64 // of those, not one of zonegate's drop rules (or not IP)
	Errors  uint64 // read errors (socket buffer overruns: packets not reported)
}

// Stats returns the reader's counters.
func (n *Nflog) Stats() NflogStats {
	return NflogStats{Packets: n.packets.Load(), Foreign: n.other.Load(), Errors: n.errors.Load()}
}
