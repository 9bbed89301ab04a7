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

// TestLintStaleCRL: a CRL whose next update is within 7 days (or past) is
// listed with the certificates and warned about; one with weeks left is
// listed and not warned about.
func TestLintStaleCRL(t *testing.T) {
	dir := t.TempDir()
	ca := tlstest.NewCA("plant CA", 400*24*time.Hour)
	gw := ca.Server("gateway", 400*24*time.Hour, "gw")
	sec := &modbus.Security{
		Certificate: modbus.File{Path: tlstest.Write(dir, "gw.crt", tlstest.CertPEM(gw.Cert))},
		Key:         modbus.File{Path: tlstest.Write(dir, "gw.key", tlstest.KeyPEM(gw.Key))},
		ClientCAs:   []modbus.File{{Path: tlstest.Write(dir, "ca.crt", tlstest.CertPEM(ca.Cert))}},
		CRL:         &modbus.File{Path: tlstest.Write(dir, "ca.crl", ca.CRL())}, // next update in a day
	}
	m, err := modbustls.Load(sec)
	assert.NoError(t, err)
	exp := m.Expiries(sec)
	if assert.Len(t, exp, 3) {
		assert.Equal(t, "crl", exp[2].Kind)
		assert.Equal(t, sec.CRL.Path, exp[2].File)
		assert.True(t, exp[2].Soon(time.Now()), "next update within 7 days")
		assert.False(t, exp[2].Soon(time.Now().Add(-7*24*time.Hour)), "a week earlier it had 8 days")
		assert.False(t, exp[0].Soon(time.Now()), "the gateway's certificate has 400 days")
	}
	var got []string
	warnf := func(at rulesblock.Pos, rule, format string, args ...any) {
		got = append(got, fmt.Sprintf("[%s] %s", rule, fmt.Sprintf(format, args...)))
	}
	c := rulesblock.Conduit{Name: "c", Rules: &modbus.Spec{Security: sec}, At: func(string) rulesblock.Pos { return rulesblock.Pos{Line: 1, Column: 1} }}
	modbustls.Lint(c, warnf, time.Now())
	if assert.Len(t, got, 1) {
		assert.Contains(t, got[0], `[tls-certificate-expiring] conduit "c": the CRL of "CN=plant CA,O=zonegate test"`)
		assert.Contains(t, got[0], "is due for its next update")
	}
	got = nil
	modbustls.Lint(c, warnf, time.Now().Add(48*time.Hour))
	if assert.Len(t, got, 1) {
		assert.Contains(t, got[0], "was due for its next update")
	}
}

// TestLintUnreadableFiles: a tls block whose files are missing is a
// warning that names the file.
func TestLintUnreadableFiles(t *testing.T) {
	dir := t.TempDir()
	sec := &modbus.Security{
		Certificate: modbus.File{Path: dir + "/gw.crt"},
		Key:         modbus.File{Path: dir + "/gw.key"},
		ClientCAs:   []modbus.File{{Path: dir + "/ca.crt"}},
	}
	var got []string
	warnf := func(at rulesblock.Pos, rule, format string, args ...any) {
		got = append(got, fmt.Sprintf("%d:%d [%s] %s", at.Line, at.Column, rule, fmt.Sprintf(format, args...)))
	}
	c := rulesblock.Conduit{Name: "c", Rules: &modbus.Spec{Security: sec}, At: func(string) rulesblock.Pos { return rulesblock.Pos{Line: 3, Column: 7} }}
	modbustls.Lint(c, warnf, time.Now())
	if assert.Len(t, got, 1) {
		assert.Contains(t, got[0], `3:7 [tls-files-unreadable] conduit "c": `)
		assert.Contains(t, got[0], dir+"/gw.crt")
	}
}
