package modbustls

import (
	"time"

	"github.com/zonegate/zonegate/protocols/modbus"
	"github.com/zonegate/zonegate/protocols/rulesblock"
)

// RuleExpiring is the lint rule of certificates that expire soon.
const RuleExpiring = "tls-certificate-expiring"

// RuleUnreadable is the lint rule of TLS files that cannot be read or do
// not fit together: applying the model would fail.
const RuleUnreadable = "tls-files-unreadable"

// ExpiryWarning is how early a coming expiry is reported (lint, status,
// metrics).
const ExpiryWarning = 30 * 24 * time.Hour

// CRLWarning is how early a CRL's coming next update is reported: after
// it, the CRL is stale and no longer says which certificates are revoked.
const CRLWarning = 7 * 24 * time.Hour

// Lint warns about the certificates of a secure Modbus conduit (the
// gateway's own and the client CAs) that expire within 30 days of now,
// a CRL due for its next update within 7 days, and files that cannot be
// read or do not fit (a warning, not an error: a model is often checked
// away from the gateway that holds its files; applying it fails).
func Lint(c rulesblock.Conduit, warnf rulesblock.Warnf, now time.Time) {
	spec, _ := c.Rules.(*modbus.Spec)
	if spec == nil || spec.Security == nil {
		return
	}
	m, err := Load(spec.Security)
	if err != nil {
		warnf(c.At("modbus"), RuleUnreadable, "conduit %q: %v: applying this model on a gateway without these files fails", c.Name, err)
		return
	}
	for _, e := range m.Expiries(spec.Security) {
		if !e.Soon(now) {
			continue
		}
		day := e.NotAfter.UTC().Format("2006-01-02")
		if e.Kind == "crl" {
			what := "is due for its next update"
			if e.NotAfter.Before(now) {
				what = "was due for its next update"
			}
			warnf(c.At("modbus"), RuleExpiring, "conduit %q: the CRL of %q (%s) %s on %s: issue a new one (openssl ca -gencrl) and reload the gateway (SIGHUP), or revocations made since go unseen",
				c.Name, e.Subject, e.File, what, day)
			continue
		}
		what := "expires"
		if e.NotAfter.Before(now) {
			what = "expired"
		}
		name := "the gateway's certificate"
		if e.Kind == "client_ca" {
			name = "client CA"
		}
		warnf(c.At("modbus"), RuleExpiring, "conduit %q: %s %q (%s) %s on %s: renew it before Modbus/TCP Security clients are refused",
			c.Name, name, e.Subject, e.File, what, day)
	}
}
