package gateway

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zonegate/zonegate/gateway/audit"
	"github.com/zonegate/zonegate/gateway/settings"
)

// TestReloadSettings: a SIGHUP takes the settings file's changes.* at
// once (a smaller changes.keep prunes at the next push); a change that
// cannot be audited is not made. The settings' own reload rules are tested
// in package settings.
func TestReloadSettings(t *testing.T) {
	h := newHarness(t)
	require.NoError(t, h.d.ReloadSettings(h.ctx), "no settings file: nothing to reload")

	path := h.withSettingsFile("state_dir: /elsewhere\nchanges:\n  keep: 3\n  confirm_within: 5m\n")
	require.NoError(t, h.d.ReloadSettings(h.ctx))
	assert.Equal(t, 3, h.d.settings.Get().Changes.Keep)
	assert.Equal(t, settings.Duration(5*time.Minute), h.d.settings.Get().Changes.ConfirmWithin)
	assert.Equal(t, 5*time.Minute, apiBackend{h.d}.ConfirmWithin(), "a push without a confirm window takes the new one")
	assert.Equal(t, h.set.StateDir, h.d.settings.Get().StateDir, "what the command line set stays")
	changed := h.entries(audit.ActionSettingsChanged)
	require.Len(t, changed, 2, "one at start, one at reload")
	assert.Contains(t, changed[1].Details[audit.DetailDiff], "changes.confirm_within, changes.keep")
	for i := 0; i < 5; i++ {
		h.push([]string{hModelBase, hModelOpen}[i%2], 0)
	}
	assert.Equal(t, "4:superseded 5:running", h.states()[len(h.states())-len("4:superseded 5:running"):])
	vs, err := h.d.tx.History()
	require.NoError(t, err)
	assert.Len(t, vs, 3, "the new keep prunes")

	require.NoError(t, os.WriteFile(path, []byte("changes:\n  keep: 1\n"), 0o600))
	assert.ErrorContains(t, h.d.ReloadSettings(h.ctx), "changes.keep must be at least 2")
	assert.Equal(t, 3, h.d.settings.Get().Changes.Keep)
	assert.Len(t, h.entries(audit.ActionSettingsRejected), 1)

	// A change that cannot be audited is not made.
	require.NoError(t, os.WriteFile(path, []byte("changes:\n  keep: 7\n"), 0o600))
	h.d.closeAudit()
	h.d.rec.SetLog(nil)
	assert.ErrorIs(t, h.d.ReloadSettings(h.ctx), audit.ErrUnavailable)
	assert.Equal(t, 3, h.d.settings.Get().Changes.Keep)
}

// TestRun starts the whole daemon with the fake kernel: the Modbus proxy
// on a loopback port, the API on a socket in a temporary directory. A
// reload is taken only by the main loop, after boot; cancelling stops it.
func TestRun(t *testing.T) {
	s := settings.Default()
	dir := t.TempDir()
	s.StateDir = filepath.Join(dir, "state")
	s.API.Socket = filepath.Join(dir, "run", "api.sock")
	model := filepath.Join(dir, "model.yaml")
	require.NoError(t, os.WriteFile(model, []byte(hModelBase), 0o600))
	s.Model = model
	h := &harness{t: t, set: s}
	k, clk := newFakes()
	d := New(Config{Settings: s, Kernel: k, Clock: clk, ModbusListen: "127.0.0.1:0"})
	ctx, cancel := context.WithCancel(context.Background())
	reload := make(chan struct{})
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx, reload) }()
	select {
	case reload <- struct{}{}: // the model file is unchanged
	case err := <-done:
		t.Fatalf("Run returned before its main loop: %v", err)
	}
	// The first reload may still be reading the file: replace it whole,
	// as an editor that renames would, so it reads one model or the other.
	require.NoError(t, os.WriteFile(model+".new", []byte(hModelOpen), 0o600))
	require.NoError(t, os.Rename(model+".new", model))
	reload <- struct{}{}
	reload <- struct{}{} // a reload is done when the next one is taken
	assert.NotEmpty(t, d.proxies.Protocols(), "the proxies run")
	cancel()
	require.NoError(t, <-done)
	h.d = d
	assert.Equal(t, "1:superseded 2:running", h.states())
	assert.Equal(t, []string{"zonegate model-applied model v1 success", "local:SIGHUP model-applied model v2 success"}, h.records())
	var actions []audit.Action
	require.NoError(t, audit.Read(s.AuditDir(), audit.Filter{}, func(e audit.Entry) error {
		if e.Category == audit.CategoryService {
			actions = append(actions, e.Action)
		}
		return nil
	}))
	assert.Equal(t, []audit.Action{audit.ActionServiceStart, audit.ActionServiceStop}, actions)

	// A second daemon on the same socket is refused.
	d2 := New(Config{Settings: s, Kernel: k, Clock: clk, ModbusListen: "127.0.0.1:0"})
	ln, err := listenUnix(s.API.Socket)
	require.NoError(t, err)
	defer ln.Close()
	assert.ErrorContains(t, d2.Run(context.Background(), nil), "another zonegate answers")
}
