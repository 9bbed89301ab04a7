package main

import (
	"bytes"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const run = `{"Action":"run","Package":"example/firewall","Test":"TestApply"}
{"Action":"output","Package":"example/firewall","Test":"TestApply","Output":"=== RUN   TestApply\n"}
{"Action":"output","Package":"example/firewall","Test":"TestApply","Output":"    x_test.go:9: skipping: needs root\n"}
{"Action":"output","Package":"example/firewall","Test":"TestApply","Output":"--- SKIP: TestApply (0.00s)\n"}
{"Action":"skip","Package":"example/firewall","Test":"TestApply"}
{"Action":"output","Package":"example/firewall","Test":"TestPlan","Output":"--- PASS: TestPlan (0.00s)\n"}
{"Action":"pass","Package":"example/firewall","Test":"TestPlan"}
{"Action":"pass","Package":"example/firewall","Elapsed":0.5}
{"Action":"skip","Package":"example/cmd/tool","Elapsed":0}
`

func TestSkipAllowedWithoutPattern(t *testing.T) {
	var out bytes.Buffer
	r := newReport(&out, nil)
	require.NoError(t, r.read(strings.NewReader(run)))
	assert.Equal(t, 0, r.finish())
	assert.Contains(t, out.String(), "example/firewall TestApply: x_test.go:9: skipping: needs root")
	assert.Contains(t, out.String(), "tests: 1 passed, 0 failed, 1 skipped")
}

func TestSkipRefusedWhenPrerequisitesComplete(t *testing.T) {
	var out bytes.Buffer
	r := newReport(&out, regexp.MustCompile(`^example/firewall$`))
	require.NoError(t, r.read(strings.NewReader(run)))
	assert.Equal(t, 1, r.finish())
	assert.Contains(t, out.String(), "not allowed")
}

func TestFailureShowsOutputAndFails(t *testing.T) {
	in := `{"Action":"output","Package":"p","Test":"TestX","Output":"    x_test.go:3: boom\n"}
{"Action":"fail","Package":"p","Test":"TestX"}
{"Action":"output","Package":"p","Output":"FAIL\n"}
{"Action":"fail","Package":"p","Elapsed":1}
`
	var out bytes.Buffer
	r := newReport(&out, nil)
	require.NoError(t, r.read(strings.NewReader(in)))
	assert.Equal(t, 1, r.finish())
	assert.Contains(t, out.String(), "--- FAIL: TestX (p)\n    x_test.go:3: boom")
	assert.Contains(t, out.String(), "FAIL\tp\t")
	assert.Contains(t, out.String(), "tests: 0 passed, 1 failed, 0 skipped")
}
