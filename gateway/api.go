package gateway

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/zonegate/zonegate/gateway/api"
	"github.com/zonegate/zonegate/gateway/audit"
	"github.com/zonegate/zonegate/gateway/httpapi"
	"github.com/zonegate/zonegate/protocols/inspect"
)

// The management API is HTTP with JSON bodies over a Unix socket; package
// httpapi serves it, package api defines its wire types. This file wires
// the daemon to it.

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

// apiBackend gives the API the daemon's change transactions and status,
// with the daemon's errors turned into API errors with their status.
type apiBackend struct{ d *Daemon }

func (b apiBackend) Push(ctx context.Context, actor string, model []byte, comment string, within time.Duration) (api.PushResult, error) {
	res, err := b.d.Push(ctx, actor, model, comment, within)
	return res, apiError(err)
}

func (b apiBackend) Confirm(ctx context.Context, actor string) (api.ModelVersion, error) {
	v, err := b.d.Confirm(ctx, actor)
	return api.ModelVersionOf(v), apiError(err)
}

func (b apiBackend) Rollback(ctx context.Context, actor string, version int) (int, error) {
	v, err := b.d.Rollback(ctx, actor, version)
	return v, apiError(err)
}

func (b apiBackend) SetIsland(ctx context.Context, actor string, on bool) error {
	return apiError(b.d.SetIsland(ctx, actor, on))
}

func (b apiBackend) History() ([]api.ModelVersion, error) {
	vs, err := b.d.History()
	return api.ModelVersionsOf(vs), apiError(err)
}

func (b apiBackend) Status() (api.Status, error) {
	st, err := b.d.Status()
	return st, apiError(err)
}

func (b apiBackend) ConfirmWithin() time.Duration {
	return time.Duration(b.d.settings.Get().Changes.ConfirmWithin)
}

func (b apiBackend) Refused(rec audit.Record) { b.d.rec.RecordBestEffort(rec) }

func (b apiBackend) Unauthenticated(peer httpapi.PeerCred, route, why string) {
	b.d.unauth.Note(peer, route, why)
}

func (b apiBackend) RunningModel() (api.RunningModel, error) {
	m, err := b.d.RunningModel()
	return m, apiError(err)
}

// apiError gives the daemon's own errors their API status; other errors
// (accounts, audit log) are mapped by httpapi.
func apiError(err error) error {
	var me *ModelError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &me):
		e := &api.Error{Status: http.StatusUnprocessableEntity,
			Message: fmt.Sprintf("the model has %d error(s); nothing was changed", len(me.Diagnostics))}
		for _, diag := range me.Diagnostics {
			e.Diagnostics = append(e.Diagnostics, diag.String())
		}
		return e
	case errors.Is(err, ErrPending), errors.Is(err, ErrNothingPending), errors.Is(err, ErrNoPrevious):
		return &api.Error{Status: http.StatusConflict, Message: err.Error()}
	case errors.Is(err, errNoModel):
		return &api.Error{Status: http.StatusNotFound, Message: err.Error()}
	}
	return err
}

// errNoModel answers GET /v1/model while no model version runs.
var errNoModel = errors.New("no model version runs (island mode): push one with `zonegate push FILE`")

// RunningModel returns the running model version's text.
func (d *Daemon) RunningModel() (api.RunningModel, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.state.Current == 0 || d.running == nil {
		return api.RunningModel{}, errNoModel
	}
	text, err := d.store.Model(d.state.Current)
	if err != nil {
		return api.RunningModel{}, fmt.Errorf("read model version %d from the state directory: %w", d.state.Current, err)
	}
	return api.RunningModel{Version: d.state.Current, Digest: d.running.Digest(), Model: string(text)}, nil
}

// Status reports the running configuration and the counters.
func (d *Daemon) Status() (api.Status, error) {
	d.mu.Lock()
	st := api.Status{Version: d.state.Current, Pending: api.PendingOf(d.state.Pending), Island: d.state.Island || d.islandWhy != "",
		IslandReason: d.islandWhy, Sessions: d.accounts.SessionCount(),
		Drift: api.DriftStats{Checks: d.drift.Checks, Detected: d.drift.Detected, Last: d.drift.Last}}
	if d.running != nil {
		st.Gateway, st.Digest = d.running.Gateway.Name, d.running.Digest()
	}
	if d.state.Island && st.IslandReason == "" {
		st.IslandReason = "turned on with `zonegate island on`"
	}
	d.mu.Unlock()
	cs, err := d.kernel.Counters()
	if err != nil {
		return st, err
	}
	for _, c := range cs {
		st.Counters = append(st.Counters, api.Counter(c))
	}
	for _, rc := range d.proxies.Requests() {
		if rc.Protocol == inspect.Modbus.Name {
			st.Modbus = append(st.Modbus, api.ModbusCount{Conduit: rc.Conduit, Function: rc.Function, Verdict: rc.Verdict, Count: rc.Count})
		}
	}
	if l := d.rec.Log(); l != nil {
		as := api.AuditStats(l.Stats())
		st.Audit = &as
	}
	return st, nil
}

func (b apiBackend) Events(ctx context.Context, since uint64, wait time.Duration) (api.EventsResult, error) {
	return b.d.Events(ctx, since, wait), nil
}
