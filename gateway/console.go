package gateway

import (
	"fmt"
	"net/netip"
	"time"

	"go.uber.org/zap"

	"github.com/zonegate/zonegate/gateway/api"
	"github.com/zonegate/zonegate/gateway/audit"
	"github.com/zonegate/zonegate/gateway/console"
)

// The web console (settings console.*) is package console; this file
// gives it the transactions, the accounts, the status, the events and the
// audit log, and starts it after the metrics. Like the metrics, its
// address applies at the next start.

// serveConsole starts the web console when console.listen is set. An
// address outside the management zones' interfaces, or one that cannot
// be bound, is a settings error: Run returns it (the fail-close ruleset
// and the model stay in place).
func (d *Daemon) serveConsole() (stop func(), err error) {
	set := d.set.Console
	if set.Listen == "" {
		return func() {}, nil
	}
	ap, err := netip.ParseAddrPort(set.Listen)
	if err != nil {
		return nil, fmt.Errorf("console.listen %q: %w", set.Listen, err)
	}
	m := d.tx.Running()
	if m == nil {
		m = d.tx.LastKnown()
	}
	if err := console.CheckManagement(ap, m, console.InterfaceOf); err != nil {
		return nil, err
	}
	cert, err := d.consoleCertificate(ap, gatewayName(m))
	if err != nil {
		return nil, err
	}
	ln, err := console.Listen(ap)
	if err != nil {
		return nil, err
	}
	cfg := console.Config{Changes: d.tx, Accounts: d.accounts, Status: d.Status, Events: apiBackend{d}, Recorder: consoleRecorder{d},
		IdleTimeout: time.Duration(set.IdleTimeout), Fingerprint: cert.Fingerprint, Clock: d.cfg.Clock, Log: d.log.Named("console")}
	if d.rec.Log() != nil {
		cfg.Audit = console.AuditDir(d.set.AuditDir())
	}
	c, err := console.New(cfg)
	if err != nil {
		ln.Close()
		return nil, err
	}
	srv := console.Serve(ln, cert, c.Handler(), d.log)
	url := "https://" + ln.Addr().String() + "/"
	d.consoleStatus.Store(&api.ConsoleStatus{URL: url, Fingerprint: cert.Fingerprint, SelfSigned: cert.Generated, Certificate: cert.File, NotAfter: cert.NotAfter.UTC()})
	d.log.Info("web console listening", zap.String("url", url), zap.String("certificate_sha256", cert.Fingerprint), zap.String("certificate", cert.File))
	return func() {
		d.consoleStatus.Store(nil)
		if err := srv.Close(); err != nil {
			d.log.Warn("web console closed with requests in progress", zap.Error(err))
		}
	}, nil
}

// consoleCertificate is the settings' certificate, or the self-signed one
// of the state directory (made at the first start).
func (d *Daemon) consoleCertificate(ap netip.AddrPort, gateway string) (console.Certificate, error) {
	set := d.set.Console
	if set.CertFile != "" {
		return console.LoadCertificate(set.CertFile, set.KeyFile)
	}
	cert, err := console.LoadOrCreateSelfSigned(d.set.StateDir, ap.Addr(), gateway, d.cfg.Clock.Now())
	if err == nil && cert.Created {
		d.log.Warn("made a new self-signed certificate for the web console: check its fingerprint in the browser against `zonegate status`",
			zap.String("certificate_sha256", cert.Fingerprint), zap.String("file", cert.File))
	}
	return cert, err
}

// consoleRecorder records what the console refuses, as the API's refusals.
type consoleRecorder struct{ d *Daemon }

func (r consoleRecorder) Refused(rec audit.Record) { r.d.rec.RecordBestEffort(rec) }

func (r consoleRecorder) Unauthenticated(remote, route, why string) {
	r.d.unauth.NoteRemote(remote, route, why)
}
