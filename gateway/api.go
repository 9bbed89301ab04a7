package gateway

import (
	"context"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/zonegate/zonegate/gateway/api"
	"github.com/zonegate/zonegate/gateway/audit"
	"github.com/zonegate/zonegate/gateway/changes"
	"github.com/zonegate/zonegate/gateway/httpapi"
	"github.com/zonegate/zonegate/protocols/modbus/modbusrules"
)

// The management API is HTTP with JSON bodies over a Unix socket; package
// httpapi serves it (and maps the transactions' errors to statuses),
// package api defines its wire types. This file wires the daemon to it.

// serveAPI listens on the settings' socket and serves the API.
func (d *Daemon) serveAPI() (io.Closer, error) {
	gid, err := d.set.APIGroupID()
	if err != nil {
		return nil, err
	}
	return httpapi.Start(httpapi.Config{Socket: d.set.API.Socket, GID: gid, Backend: apiBackend{d}, Accounts: d.accounts, Log: d.log})
}

// apiHandler is the API's handler without a socket (tests).
func (d *Daemon) apiHandler() http.Handler {
	return httpapi.Handler(apiBackend{d}, d.accounts)
}

// apiBackend gives the API the change transactions, in its wire types,
// and the daemon's status. The API names the caller by its account.
type apiBackend struct{ d *Daemon }

func (b apiBackend) Push(ctx context.Context, actor string, model []byte, comment string, within time.Duration) (api.PushResult, error) {
	res, err := b.d.tx.Push(ctx, changes.Actor{User: actor}, model, comment, within)
	return api.PushResult(res), err
}

func (b apiBackend) Confirm(ctx context.Context, actor string) (api.ModelVersion, error) {
	v, err := b.d.tx.Confirm(ctx, changes.Actor{User: actor})
	return api.ModelVersionOf(v), err
}

func (b apiBackend) Rollback(ctx context.Context, actor string, version int) (int, error) {
	return b.d.tx.Rollback(ctx, changes.Actor{User: actor}, version)
}

func (b apiBackend) SetIsland(ctx context.Context, actor string, on bool) error {
	return b.d.tx.SetIsland(ctx, changes.Actor{User: actor}, on)
}

func (b apiBackend) History() ([]api.ModelVersion, error) {
	vs, err := b.d.tx.History()
	return api.ModelVersionsOf(vs), err
}

func (b apiBackend) RunningModel() (api.RunningModel, error) {
	m, err := b.d.tx.RunningModel()
	return api.RunningModel{Version: m.Version, Digest: m.Digest, Model: string(m.Text)}, err
}

func (b apiBackend) Status() (api.Status, error) { return b.d.Status() }

func (b apiBackend) ConfirmWithin() time.Duration {
	return time.Duration(b.d.settings.Get().Changes.ConfirmWithin)
}

func (b apiBackend) Refused(rec audit.Record) { b.d.rec.RecordBestEffort(rec) }

func (b apiBackend) Unauthenticated(peer httpapi.PeerCred, route, why string) {
	b.d.unauth.Note(peer, route, why)
}

func (b apiBackend) Events(ctx context.Context, since uint64, wait time.Duration) (api.EventsResult, error) {
	return httpapi.PipelineEvents(ctx, b.d.pipeline, since, wait), nil
}

// Status reports the running configuration, the counters of the ruleset
// and of the proxies, the audit log and the sessions.
func (d *Daemon) Status() (api.Status, error) {
	ts := d.tx.Status()
	st := api.Status{Gateway: ts.Gateway, Version: ts.Version, Digest: ts.Digest, Pending: api.PendingOf(ts.Pending),
		Island: ts.Island, IslandReason: ts.IslandReason, Drift: api.DriftStats(ts.Drift), Sessions: d.accounts.SessionCount(),
		Console: d.consoleStatus.Load()}
	cs, err := d.tx.Counters()
	if err != nil {
		return st, err
	}
	for _, c := range cs {
		st.Counters = append(st.Counters, api.Counter(c))
	}
	for _, rc := range d.proxies.Requests() {
		if rc.Protocol == modbusrules.Name {
			st.Modbus = append(st.Modbus, api.ModbusCount{Conduit: rc.Conduit, Function: rc.Function, Verdict: rc.Verdict, Count: rc.Count})
			continue
		}
		fn := rc.Name
		if fn == "" {
			fn = strconv.Itoa(rc.Function)
		}
		st.Inspected = append(st.Inspected, api.InspectedCount{Protocol: rc.Protocol, Conduit: rc.Conduit, Function: fn, Verdict: rc.Verdict, Count: rc.Count})
	}
	now := time.Now()
	for _, c := range d.proxies.CertExpiries() {
		st.ModbusTLS = append(st.ModbusTLS, api.TLSCertificate{Conduit: c.Conduit, Kind: c.Kind, Subject: c.Subject, File: c.File,
			NotAfter: c.NotAfter, ExpiresSoon: c.Soon(now)})
	}
	st.TLSSessions = d.proxies.TLSSessions()
	if l := d.rec.Log(); l != nil {
		as := api.AuditStats(l.Stats())
		st.Audit = &as
	}
	return st, nil
}
