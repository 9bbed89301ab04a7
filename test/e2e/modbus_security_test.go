package e2e

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	mbserver "github.com/simonvetter/modbus"

	"github.com/zonegate/zonegate/protocols/modbustls/tlstest"
	"github.com/zonegate/zonegate/test/lab"
)

// mbsModel is a plant whose PLC speaks plain Modbus/TCP on 502 while the
// SCADA zone reaches it only by Modbus/TCP Security on 802, terminated at
// the gateway, with roles from the client certificates.
const mbsModel = `version: 1
gateway:
  name: mbtls-e2e-gw
  management:
    zones: [ops]
zones:
  - name: ops
    importance: medium
    interfaces: [eth0]
    networks: [198.18.120.0/24]
  - name: plant
    importance: high
    interfaces: [eth1]
    networks: [198.18.130.0/24]
assets:
  - {name: scada, zone: ops, address: 198.18.120.10, importance: high}
  - {name: plc, zone: plant, address: 198.18.130.10, importance: high}
conduits:
  - name: secure-scada
    from: ops
    to: plant
    to_assets: [plc]
    services: [tcp/802]
    inspect: modbus
    modbus:
      units: [1]
      allow: []
      tls:
        certificate: tls/gw.crt
        key: tls/gw.key
        client_cas: [tls/plant-ca.crt]
        crl: tls/plant-ca.crl
        require_role: true
      roles:
        operator: [{read: holding_registers, addresses: 0-99}]
        engineer: [{read: holding_registers, addresses: 0-99}, {write: holding_registers, addresses: 10-19}]
`

const (
	mbsPLC    = "198.18.130.10"
	mbsTarget = mbsPLC + ":802"
)

// mbsClient opens a simonvetter tcp+tls client from namespace ns; the
// handshake happens in Open.
func mbsClient(t *testing.T, ns string, ca *tlstest.CA, leaf *tlstest.Leaf) (*mbserver.ModbusClient, error) {
	t.Helper()
	roots := x509.NewCertPool()
	roots.AddCert(ca.Cert)
	cert := leaf.TLS()
	c, err := mbserver.NewClient(&mbserver.ClientConfiguration{URL: "tcp+tls://" + mbsTarget, Timeout: 5 * time.Second,
		TLSClientCert: &cert, TLSRootCAs: roots, Logger: log.New(io.Discard, "", 0)})
	if err != nil {
		t.Fatal(err)
	}
	if err := lab.Do(ns, c.Open); err != nil {
		return nil, err
	}
	t.Cleanup(func() { c.Close() })
	return c, nil
}

// mbsRefused opens a client that the gateway must refuse at the handshake
// (under TLS 1.3 a client hears of it at its first read) and returns the
// error.
func mbsRefused(t *testing.T, ns string, ca *tlstest.CA, leaf *tlstest.Leaf) error {
	c, err := mbsClient(t, ns, ca, leaf)
	if err != nil {
		return err
	}
	if _, err = c.ReadRegisters(0, 1, mbserver.HOLDING_REGISTER); err == nil {
		return errors.New("a read went through")
	}
	return err
}

// TestModbusSecurity: Modbus/TCP Security end to end in namespaces. The
// simonvetter tcp+tls client in the SCADA zone talks to port 802 of the
// PLC; the gateway terminates TLS and forwards plain Modbus/TCP to the
// PLC's port 502, deciding by the role in the client's certificate. The
// PLC's own log proves what reached it. Every certificate the
// specification refuses, TLS 1.1 and plain Modbus to 802 are refused at
// the handshake and logged with reason and peer; a SIGHUP that revokes a
// certificate closes its open session.
func TestModbusSecurity(t *testing.T) {
	mbRequire(t)
	bin := mbBuildZonegate(t)
	dir := t.TempDir()
	tlsDir := filepath.Join(dir, "tls")
	if err := os.MkdirAll(tlsDir, 0o755); err != nil {
		t.Fatal(err)
	}
	ca := tlstest.NewCA("plant CA", 365*24*time.Hour)
	gw := ca.Server("mbtls-e2e-gw", 365*24*time.Hour, mbsPLC)
	tlstest.Write(tlsDir, "gw.crt", tlstest.CertPEM(gw.Cert))
	tlstest.Write(tlsDir, "gw.key", tlstest.KeyPEM(gw.Key))
	tlstest.Write(tlsDir, "plant-ca.crt", tlstest.CertPEM(ca.Cert))
	tlstest.Write(tlsDir, "plant-ca.crl", ca.CRL())
	model := mbWriteFile(t, dir, "model.yaml", mbsModel)

	l := upLab(t, loadModelText(t, mbsModel), "zgmbs")
	scada := l.Assets["scada"].NS
	plc := mbStartGoPLC(t, l.Assets["plc"].NS, mbsPLC+":502")
	d := mbStartDaemon(t, bin, l, model)

	opLeaf := ca.Client("operator-1", tlstest.ClientOpts{Roles: []string{"operator"}})
	engLeaf := ca.Client("engineer-1", tlstest.ClientOpts{Roles: []string{"engineer"}})
	op, err := mbsClient(t, scada, ca, opLeaf)
	if err != nil {
		t.Fatalf("operator's handshake: %v\n%s", err, d.log)
	}
	eng, err := mbsClient(t, scada, ca, engLeaf)
	if err != nil {
		t.Fatalf("engineer's handshake: %v", err)
	}
	if v, err := op.ReadRegisters(20, 3, mbserver.HOLDING_REGISTER); err != nil || fmt.Sprint(v) != "[1020 1021 1022]" {
		t.Errorf("operator reads 20-22: %v %v", v, err)
	}
	if err := op.WriteRegister(12, 7); !errors.Is(err, mbserver.ErrIllegalFunction) {
		t.Errorf("operator writes register 12: %v, want exception 01 (illegal function)", err)
	}
	if err := eng.WriteRegister(12, 42); err != nil {
		t.Errorf("engineer writes register 12: %v", err)
	}
	if err := eng.WriteRegister(30, 1); !errors.Is(err, mbserver.ErrIllegalDataAddress) {
		t.Errorf("engineer writes register 30 outside 10-19: %v, want exception 02", err)
	}
	var writes []string
	for _, r := range plc.requests() {
		if r.Write {
			writes = append(writes, fmt.Sprintf("%d=%v", r.Addr, r.Regs))
		}
	}
	if got := strings.Join(writes, " "); got != "12=[42]" {
		t.Errorf("the PLC saw the writes %q, want only the engineer's 12=[42]", got)
	}
	if n := plc.count(); n != 2 {
		t.Errorf("the PLC handled %d requests, want the operator's read and the engineer's write", n)
	}
	mbsCheckAudit(t, bin, d, engLeaf)

	other := tlstest.NewCA("other CA", time.Hour)
	badCases := []struct {
		name, reason string
		leaf         *tlstest.Leaf
		ca           *tlstest.CA
	}{
		{"another CA", "tls-untrusted-certificate", other.Client("stranger", tlstest.ClientOpts{Roles: []string{"engineer"}}), ca},
		{"expired", "tls-certificate-expired", ca.Client("old", tlstest.ClientOpts{Roles: []string{"engineer"}, NotBefore: time.Now().Add(-48 * time.Hour), NotAfter: time.Now().Add(-time.Hour)}), ca},
		{"two role extensions", "tls-bad-role-extension", ca.Client("greedy", tlstest.ClientOpts{Roles: []string{"operator", "engineer"}}), ca},
	}
	for _, c := range badCases {
		from := d.log.len()
		if err := mbsRefused(t, scada, c.ca, c.leaf); err == nil {
			t.Errorf("%s: not refused", c.name)
		}
		mbsWaitRefused(t, d, from, c.name, c.reason)
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca.Cert)
	from := d.log.len()
	if err := mbsHandshake(scada, &tls.Config{RootCAs: roots, ServerName: mbsPLC}); err == nil {
		t.Errorf("no client certificate: not refused")
	}
	mbsWaitRefused(t, d, from, "no client certificate", "tls-no-client-certificate")
	from = d.log.len()
	cert := engLeaf.TLS()
	if err := mbsHandshake(scada, &tls.Config{RootCAs: roots, ServerName: mbsPLC, Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11}); err == nil {
		t.Errorf("TLS 1.1: not refused")
	}
	mbsWaitRefused(t, d, from, "TLS 1.1", "tls-version-refused")
	from = d.log.len()
	nc, err := lab.Dial(scada, "tcp", mbsTarget, 5*time.Second)
	if err != nil {
		t.Fatalf("plain TCP to 802: %v", err)
	}
	c := &mbConn{Conn: nc}
	_ = nc.SetDeadline(time.Now().Add(5 * time.Second))
	if resp, err := c.do(1, mbReadHR(0, 1)...); err == nil {
		t.Errorf("plain Modbus to port 802 was answered: % x", resp)
	}
	nc.Close()
	mbsWaitRefused(t, d, from, "plain Modbus to 802", "tls-handshake-failed")
	if n := plc.count(); n != 2 {
		t.Errorf("the PLC handled %d requests, want 2: a refused client reached it", n)
	}

	// Revoke the engineer: a SIGHUP closes its open session and refuses
	// its next handshake; the operator's session carries on.
	tlstest.Write(tlsDir, "plant-ca.crl", ca.CRL(engLeaf.Cert))
	from = d.log.len()
	d.hup(t, model, mbsModel)
	if _, ok := d.log.wait(from, 10*time.Second, mbFields("msg", "Modbus/TCP Security sessions no longer allowed were closed")); !ok {
		t.Fatalf("the SIGHUP did not close the revoked session:\n%s", d.log)
	}
	if _, err := eng.ReadRegisters(0, 1, mbserver.HOLDING_REGISTER); err == nil {
		t.Errorf("the revoked engineer's open session still reads")
	}
	if _, err := op.ReadRegisters(0, 1, mbserver.HOLDING_REGISTER); err != nil {
		t.Errorf("the operator's session after the revocation: %v", err)
	}
	from = d.log.len()
	if err := mbsRefused(t, scada, ca, engLeaf); err == nil {
		t.Errorf("the revoked certificate: not refused")
	}
	mbsWaitRefused(t, d, from, "revoked", "tls-certificate-revoked")

	// The operator's role loses reads 10-99: its open session is closed
	// (as a revoked conduit's connections are), a new one reads 0-9 only.
	narrowed := strings.Replace(mbsModel, "operator: [{read: holding_registers, addresses: 0-99}]", "operator: [{read: holding_registers, addresses: 0-9}]", 1)
	if narrowed == mbsModel {
		t.Fatal("the test's model edit did not apply")
	}
	from = d.log.len()
	d.reload(t, model, narrowed)
	if _, ok := d.log.wait(from, 10*time.Second, mbFields("msg", "inspected connections no longer allowed were closed")); !ok {
		t.Errorf("the reload that narrowed the operator's role closed no session:\n%s", d.log)
	}
	if _, err := op.ReadRegisters(0, 1, mbserver.HOLDING_REGISTER); err == nil {
		t.Errorf("the operator's open session still reads after its role lost a permission")
	}
	op2, err := mbsClient(t, scada, ca, opLeaf)
	if err != nil {
		t.Fatalf("the operator's new handshake: %v", err)
	}
	if _, err := op2.ReadRegisters(0, 10, mbserver.HOLDING_REGISTER); err != nil {
		t.Errorf("the operator reads 0-9 under the narrowed role: %v", err)
	}
	if _, err := op2.ReadRegisters(20, 1, mbserver.HOLDING_REGISTER); !errors.Is(err, mbserver.ErrIllegalDataAddress) {
		t.Errorf("the operator reads 20 under the narrowed role: %v, want exception 02", err)
	}
}

// mbsWaitRefused waits for the daemon's line about a refused handshake
// with its reason and the SCADA's address as the peer.
func mbsWaitRefused(t *testing.T, d *mbDaemon, from int, what, reason string) {
	t.Helper()
	r, ok := d.log.wait(from, 10*time.Second, mbFields("msg", "Modbus/TCP Security handshake refused", "reason", reason))
	if !ok {
		t.Errorf("%s: no refused handshake with reason %s in the daemon log:\n%s", what, reason, d.log)
		return
	}
	if peer := fmt.Sprint(r["peer"]); !strings.HasPrefix(peer, "198.18.120.10:") {
		t.Errorf("%s: the refusal names peer %q, want the SCADA's address", what, peer)
	}
}

// mbsHandshake runs a TLS handshake from ns to the PLC's port 802, and a
// read, where a TLS 1.3 client hears that its certificate was refused.
func mbsHandshake(ns string, cfg *tls.Config) error {
	nc, err := lab.Dial(ns, "tcp", mbsTarget, 5*time.Second)
	if err != nil {
		return err
	}
	defer nc.Close()
	_ = nc.SetDeadline(time.Now().Add(5 * time.Second))
	tc := tls.Client(nc, cfg)
	if err := tc.Handshake(); err != nil {
		return err
	}
	if _, err := tc.Read(make([]byte, 1)); err != nil {
		return err
	}
	return errors.New("the gateway sent data")
}

// mbsCheckAudit waits until the audit log records the engineer's session
// (subject, SHA-256 fingerprint, role) and its write naming the role.
func mbsCheckAudit(t *testing.T, bin string, d *mbDaemon, leaf *tlstest.Leaf) {
	t.Helper()
	state := ""
	for i, a := range d.cmd.Args {
		if a == "--state-dir" && i+1 < len(d.cmd.Args) {
			state = d.cmd.Args[i+1]
		}
	}
	if state == "" {
		t.Fatal("the daemon has no --state-dir: cannot read its audit log")
	}
	sum := sha256.Sum256(leaf.Cert.Raw)
	fp := hex.EncodeToString(sum[:])
	var opened, write bool
	var recs []mgRecord
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline) && !(opened && write); time.Sleep(200 * time.Millisecond) {
		recs = mgAuditShow(t, bin, filepath.Join(state, "audit"))
		for _, r := range recs {
			switch {
			case r.Action == "channel-opened" && r.Details["role"] == "engineer":
				opened = r.Details["subject"] == "CN=engineer-1,O=plant" && r.Details["fingerprint"] == fp && r.Details["conduit"] == "secure-scada"
			case r.Action == "write-allowed" && r.Details["conduit"] == "secure-scada":
				write = r.Details["role"] == "engineer" && r.Details["addresses"] == "12"
			}
		}
	}
	if !opened || !write {
		t.Errorf("audit: engineer's session recorded with subject and fingerprint %s: %v; its write naming the role: %v\n%v", fp, opened, write, recs)
	}
}
