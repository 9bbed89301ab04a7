package uacert

import (
	"crypto/sha256"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zonegate/zonegate/protocols/opcua"
	"github.com/zonegate/zonegate/test/uatest"
)

func TestCheck(t *testing.T) {
	dir := t.TempDir()
	ca := uatest.NewCA(t, "MES CA")
	now := time.Now()
	good := ca.Issue(t, "mes-1", now.Add(-time.Hour), now.Add(time.Hour), 2048)
	revoked := ca.Issue(t, "mes-2", now.Add(-time.Hour), now.Add(time.Hour), 2048)
	caFile, crlFile := filepath.Join(dir, "ca.pem"), filepath.Join(dir, "ca.crl")
	require.NoError(t, os.WriteFile(caFile, ca.PEM(), 0o600))
	require.NoError(t, os.WriteFile(crlFile, ca.CRL(t, revoked), 0o600))
	pinnedCert := uatest.SelfSigned(t, "pinned", now.Add(-time.Hour), now.Add(time.Hour), 2048, "")
	c, err := Load(opcua.CertSpec{CAFiles: []opcua.File{{Name: "ca.pem", Path: caFile}}, CRLFiles: []opcua.File{{Name: "ca.crl", Path: crlFile}},
		Pinned: [][32]byte{sha256.Sum256(pinnedCert.DER)}})
	require.NoError(t, err)
	for name, tc := range map[string]struct {
		der  []byte
		want opcua.Reason
	}{
		"chains to the CA":  {good.DER, opcua.ReasonNone},
		"with its chain":    {append(append([]byte{}, good.DER...), ca.DER...), opcua.ReasonNone},
		"pinned":            {pinnedCert.DER, opcua.ReasonNone},
		"revoked":           {revoked.DER, opcua.ReasonCertificateRevoked},
		"another CA":        {uatest.NewCA(t, "other").Issue(t, "x", now.Add(-time.Hour), now.Add(time.Hour), 2048).DER, opcua.ReasonCertificateUntrusted},
		"expired":           {ca.Issue(t, "old", now.Add(-2*time.Hour), now.Add(-time.Hour), 2048).DER, opcua.ReasonCertificateTime},
		"1024-bit RSA":      {ca.Issue(t, "weak", now.Add(-time.Hour), now.Add(time.Hour), 1024).DER, opcua.ReasonCertificateKeySize},
		"not a certificate": {[]byte("garbage"), opcua.ReasonCertificateInvalid},
	} {
		t.Run(name, func(t *testing.T) {
			assert.Equal(t, tc.want, c.Check(tc.der, now).Reason)
		})
	}
	_, err = Load(opcua.CertSpec{CAFiles: []opcua.File{{Name: "missing.pem", Path: filepath.Join(dir, "missing.pem")}}})
	assert.ErrorContains(t, err, "ca_files missing.pem")
}
