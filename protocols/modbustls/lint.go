package modbustls

import (
	"time"

	"github.com/zonegate/zonegate/protocols/modbus"
	"github.com/zonegate/zonegate/protocols/rulesblock"
)

// RuleExpiring is the lint rule of certificates that expire soon.
const RuleExpiring = "tls-certificate-expiring"

// ExpiryWarning is how early a coming expiry is reported (lint, status,
// metrics).
const ExpiryWarning = 30 * 24 * time.Hour

// Lint warns about the certificates of a secure Modbus conduit (the
// gateway's own and the client CAs) that expire within 30 days of now.
// Files that cannot be read are not its business: applying the model
// reports them.
func Lint(c rulesblock.Conduit, warnf rulesblock.Warnf, now time.Time) {
	spec, _ := c.Rules.(*modbus.Spec)
	if spec == nil || spec.Security == nil {
		return
	}
	m, err := Load(spec.Security)
	if err != nil {
		return
	}
	for _, e := range m.Expiries(spec.Security) {
		if e.NotAfter.Before(now.Add(ExpiryWarning)) {
			what := "expires"
			if e.NotAfter.Before(now) {
				what = "expired"
			}
			name := "the gateway's certificate"
			if e.Kind == "client_ca" {
				name = "client CA"
			}
			warnf(c.At("modbus"), RuleExpiring, "conduit %q: %s %q (%s) %s on %s: renew it before Modbus/TCP Security clients are refused",
				c.Name, name, e.Subject, e.File, what, e.NotAfter.UTC().Format("2006-01-02"))
		}
	}
}
