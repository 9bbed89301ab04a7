package modbustls_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/zonegate/zonegate/protocols/modbus"
	"github.com/zonegate/zonegate/protocols/modbustls"
	"github.com/zonegate/zonegate/protocols/modbustls/tlstest"
	"github.com/zonegate/zonegate/protocols/rulesblock"
)

func TestLintExpiring(t *testing.T) {
	dir := t.TempDir()
	ca := tlstest.NewCA("plant CA", 400*24*time.Hour)
	gw := ca.Server("gateway", 10*24*time.Hour, "gw")
	sec := &modbus.Security{
		Certificate: modbus.File{Path: tlstest.Write(dir, "gw.crt", tlstest.CertPEM(gw.Cert))},
		Key:         modbus.File{Path: tlstest.Write(dir, "gw.key", tlstest.KeyPEM(gw.Key))},
		ClientCAs:   []modbus.File{{Path: tlstest.Write(dir, "ca.crt", tlstest.CertPEM(ca.Cert))}},
	}
	var got []string
	warnf := func(at rulesblock.Pos, rule, format string, args ...any) {
		got = append(got, fmt.Sprintf("%d:%d [%s] %s", at.Line, at.Column, rule, fmt.Sprintf(format, args...)))
	}
	c := rulesblock.Conduit{Name: "c", Rules: &modbus.Spec{Security: sec}, At: func(string) rulesblock.Pos { return rulesblock.Pos{Line: 9, Column: 5} }}
	modbustls.Lint(c, warnf, time.Now())
	if assert.Len(t, got, 1, "the gateway's certificate expires in 10 days, the CA in 400") {
		assert.Contains(t, got[0], `9:5 [tls-certificate-expiring] conduit "c": the gateway's certificate "CN=gateway"`)
	}
	got = nil
	modbustls.Lint(c, warnf, time.Now().Add(380*24*time.Hour))
	assert.Len(t, got, 2, "a year on, both")
	assert.Contains(t, got[1], "client CA")
	assert.Contains(t, got[0], "expired on")
}
