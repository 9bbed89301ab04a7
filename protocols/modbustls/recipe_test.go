package modbustls_test

import (
	"crypto/tls"
	"crypto/x509"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	svmodbus "github.com/simonvetter/modbus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zonegate/zonegate/protocols/inspect"
	"github.com/zonegate/zonegate/protocols/modbus"
	"github.com/zonegate/zonegate/protocols/modbustls"
	"github.com/zonegate/zonegate/test/prereq"
)

const recipeMarker = "<!-- recipe: modbus-tls"

// readmeRecipe returns the sh block that follows the recipe's marker in
// the README.
func readmeRecipe(t *testing.T) string {
	b, err := os.ReadFile("../../README.md")
	require.NoError(t, err)
	_, after, ok := strings.Cut(string(b), recipeMarker)
	require.True(t, ok, "the README has no %q marker before the openssl recipe", recipeMarker)
	_, after, ok = strings.Cut(after, "```sh\n")
	require.True(t, ok, "no sh block after the recipe marker")
	block, _, ok := strings.Cut(after, "```")
	require.True(t, ok, "the sh block does not end")
	return block
}

// TestREADMERecipe runs the README's openssl recipe as it is written (with
// 127.0.0.1 added to the gateway certificate's addresses, which this
// test's clients dial) and serves its files: the engineer's certificate
// writes, the operator's (revoked by the recipe's last step) is refused at
// the handshake.
func TestREADMERecipe(t *testing.T) {
	prereq.Command(t, "openssl", "openssl")
	recipe := readmeRecipe(t)
	require.Contains(t, recipe, `SAN="IP:198.18.40.10, IP:198.18.40.11"`)
	recipe = strings.Replace(recipe, `SAN="IP:198.18.40.10, IP:198.18.40.11"`, `SAN="IP:198.18.40.10, IP:198.18.40.11, IP:127.0.0.1"`, 1)
	dir := t.TempDir()
	cmd := exec.Command("sh", "-eu", "-c", recipe)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "the README's openssl recipe fails:\n%s", out)

	path := func(n string) string { return filepath.Join(dir, n) }
	e := &env{t: t, dir: dir, roots: x509.NewCertPool()}
	caPEM, err := os.ReadFile(path("plant-ca.crt"))
	require.NoError(t, err)
	require.True(t, e.roots.AppendCertsFromPEM(caPEM))
	e.sec = &modbus.Security{Certificate: modbus.File{Path: path("gw.crt")}, Key: modbus.File{Path: path("gw.key")},
		ClientCAs: []modbus.File{{Path: path("plant-ca.crt")}}, CRL: &modbus.File{Path: path("plant-ca.crl")}, RequireRole: true}
	e.start()

	eng, err := tls.LoadX509KeyPair(path("eng-ws.crt"), path("eng-ws.key"))
	require.NoError(t, err)
	leaf, err := x509.ParseCertificate(eng.Certificate[0])
	require.NoError(t, err)
	role, err := modbustls.Role(leaf)
	require.NoError(t, err)
	assert.Equal(t, "engineer", role, "the recipe's role extension")
	c := e.clientCert(&eng)
	require.NoError(t, c.Open(), "the engineer's handshake")
	defer c.Close()
	require.NoError(t, c.WriteRegister(15, 3), "the engineer writes")
	assert.Equal(t, []string{"write hr 15 = [3]"}, e.plc.Log())

	op, err := tls.LoadX509KeyPair(path("hmi-1.crt"), path("hmi-1.key"))
	require.NoError(t, err)
	oc := e.clientCert(&op)
	if err = oc.Open(); err == nil {
		_, err = oc.ReadRegisters(0, 1, svmodbus.HOLDING_REGISTER)
		oc.Close()
	}
	require.Error(t, err, "the revoked operator is refused")
	e.waitEvent(func(ev *inspect.Event) bool { return ev.Reason == modbustls.ReasonRevoked })
}
