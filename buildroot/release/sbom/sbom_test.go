package sbom

import (
	"strings"
	"testing"

	cdx "github.com/CycloneDX/cyclonedx-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const goVersionM = "dist/zonegate-linux-armv7: go1.26.8\n" +
	"\tpath\tgithub.com/zonegate/zonegate/cmd/zonegate\n" +
	"\tmod\tgithub.com/zonegate/zonegate\t(devel)\t\n" +
	"\tdep\tgithub.com/spf13/cobra\tv1.10.2\th1:DMTTonx5m65Ic0GOoRY2c16WCbHxOOw6xxezuLaBpcU=\n" +
	"\tdep\texample.org/old\tv1.0.0\n" +
	"\t=>\texample.org/new\tv1.0.1\th1:9exaQaMOCwffKiiiYk6/BndUBv+iRViNW+4lEMi0PvY=\n" +
	"\tbuild\t-trimpath=true\n" +
	"\tbuild\tGOARCH=arm\n" +
	"\tbuild\tGOOS=linux\n" +
	"\tbuild\tGOARM=7\n"

func TestParseBuildInfo(t *testing.T) {
	bi, err := ParseBuildInfo([]byte(goVersionM))
	require.NoError(t, err)
	assert.Equal(t, "go1.26.8", bi.GoVersion)
	assert.Equal(t, "github.com/zonegate/zonegate/cmd/zonegate", bi.Path)
	assert.Equal(t, Module{Path: "github.com/zonegate/zonegate", Version: "(devel)"}, bi.Main)
	require.Len(t, bi.Deps, 2)
	assert.Equal(t, Module{Path: "github.com/spf13/cobra", Version: "v1.10.2", Sum: "h1:DMTTonx5m65Ic0GOoRY2c16WCbHxOOw6xxezuLaBpcU="}, bi.Deps[0])
	assert.Equal(t, Module{Path: "example.org/new", Version: "v1.0.1", Sum: "h1:9exaQaMOCwffKiiiYk6/BndUBv+iRViNW+4lEMi0PvY="}, bi.Deps[1].Effective())
	assert.Equal(t, map[string]string{"-trimpath": "true", "GOARCH": "arm", "GOOS": "linux", "GOARM": "7"}, bi.Settings)

	_, err = ParseBuildInfo([]byte("x: go1.26.8\n"))
	assert.Error(t, err, "a binary without module information")
}

// goodBOM is the SBOM that Check accepts for goVersionM.
func goodBOM() *cdx.BOM {
	q := "?goarch=arm&goos=linux&type=module"
	lic := func(id string) *cdx.Licenses { return &cdx.Licenses{{License: &cdx.License{ID: id}}} }
	return &cdx.BOM{
		SpecVersion: cdx.SpecVersion1_6,
		Metadata: &cdx.Metadata{
			Component: &cdx.Component{
				Name: "github.com/zonegate/zonegate", Version: "v1.2.0", Licenses: lic("Apache-2.0"),
				PackageURL: "pkg:golang/github.com/zonegate/zonegate@v1.2.0" + q + "#cmd/zonegate",
			},
			Properties: &[]cdx.Property{{Name: BinarySHA256Property, Value: "abcd"}},
		},
		Components: &[]cdx.Component{
			{
				Name: "github.com/spf13/cobra", Version: "v1.10.2", Licenses: lic("Apache-2.0"),
				PackageURL: "pkg:golang/github.com/spf13/cobra@v1.10.2" + q,
				Hashes:     &[]cdx.Hash{{Algorithm: cdx.HashAlgoSHA256, Value: "0cc4d3a27c799bae4873418ea11636735e9609b1f138ec3ac717b3b8b681a5c5"}},
			},
			{
				Name: "example.org/new", Version: "v1.0.1", Licenses: lic("BSD-3-Clause"),
				PackageURL: "pkg:golang/example.org/new@v1.0.1" + q,
				Hashes:     &[]cdx.Hash{{Algorithm: cdx.HashAlgoSHA256, Value: "f5ec5a41a30e0b07df2a28a2624ebf06775406ffa245588d5bee2510c8b43ef6"}},
			},
			{Name: "std", Version: "go1.26.8", Licenses: lic("BSD-3-Clause"), PackageURL: "pkg:golang/std@go1.26.8" + q},
		},
	}
}

func TestCheck(t *testing.T) {
	bi, err := ParseBuildInfo([]byte(goVersionM))
	require.NoError(t, err)
	require.Empty(t, Check(goodBOM(), bi, "abcd", "v1.2.0"))

	cases := []struct {
		name   string
		change func(b *cdx.BOM)
		sum    string
		want   string
	}{
		{"binary hash", func(*cdx.BOM) {}, "ffff", "the binary's SHA-256 is ffff"},
		{"old spec", func(b *cdx.BOM) { b.SpecVersion = cdx.SpecVersion1_4 }, "", "want 1.5 or newer"},
		{"missing module", func(b *cdx.BOM) { *b.Components = (*b.Components)[1:] }, "", "module github.com/spf13/cobra v1.10.2 of the binary is missing"},
		{"extra module", func(b *cdx.BOM) {
			*b.Components = append(*b.Components, cdx.Component{Name: "example.org/extra", Version: "v1"})
		}, "", "component example.org/extra v1 is not in the binary"},
		{"replaced module under its old path", func(b *cdx.BOM) { (*b.Components)[1].Name = "example.org/old" }, "", "module example.org/new v1.0.1 of the binary is missing"},
		{"version", func(b *cdx.BOM) { (*b.Components)[0].Version = "v1.10.1" }, "", "version v1.10.1, the binary has v1.10.2"},
		{"hash", func(b *cdx.BOM) { (*b.Components)[0].Hashes = nil }, "", "module github.com/spf13/cobra: SHA-256 \"\""},
		{"licence", func(b *cdx.BOM) { (*b.Components)[0].Licenses = nil }, "", "github.com/spf13/cobra v1.10.2 has no licence"},
		{"empty licence", func(b *cdx.BOM) { (*b.Components)[0].Licenses = &cdx.Licenses{{License: &cdx.License{}}} }, "", "has no licence"},
		{"purl of another architecture", func(b *cdx.BOM) {
			(*b.Components)[0].PackageURL = "pkg:golang/github.com/spf13/cobra@v1.10.2?goarch=amd64&goos=linux&type=module"
		}, "", "want \"pkg:golang/github.com/spf13/cobra@v1.10.2?goarch=arm&goos=linux&type=module\""},
		{"toolchain", func(b *cdx.BOM) { (*b.Components)[2].Version = "go1.24.0" }, "", "built by go1.26.8"},
		{"no toolchain", func(b *cdx.BOM) { *b.Components = (*b.Components)[:2] }, "", "no std component"},
		{"main licence", func(b *cdx.BOM) { b.Metadata.Component.Licenses = nil }, "", "main component github.com/zonegate/zonegate has no licence"},
		{"main version", func(b *cdx.BOM) { b.Metadata.Component.Version = "dev" }, "", "want github.com/zonegate/zonegate@v1.2.0"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := goodBOM()
			c.change(b)
			sum := "abcd"
			if c.sum != "" {
				sum = c.sum
			}
			problems := Check(b, bi, sum, "v1.2.0")
			require.NotEmpty(t, problems)
			assert.Contains(t, strings.Join(problems, "\n"), c.want)
		})
	}
}

func TestValidate(t *testing.T) {
	valid := `{"bomFormat": "CycloneDX", "specVersion": "1.6", "version": 1,
	  "serialNumber": "urn:uuid:99d87f87-9c14-5fd9-b75f-f23758031591",
	  "components": [{"type": "library", "name": "github.com/spf13/cobra", "version": "v1.10.2",
	    "licenses": [{"license": {"id": "Apache-2.0"}}],
	    "hashes": [{"alg": "SHA-256", "content": "0cc4d3a27c799bae4873418ea11636735e9609b1f138ec3ac717b3b8b681a5c5"}]}]}`
	require.NoError(t, Validate([]byte(valid)))

	for name, doc := range map[string]string{
		"not JSON":            `{"bomFormat": `,
		"wrong format name":   strings.Replace(valid, `"CycloneDX"`, `"SPDX"`, 1),
		"unknown SPDX id":     strings.Replace(valid, `"Apache-2.0"`, `"Apache-Two"`, 1),
		"short SHA-256":       strings.Replace(valid, `"0cc4d3a2`, `"0cc4`, 1),
		"unknown field":       strings.Replace(valid, `"version": 1,`, `"version": 1, "vendor": "x",`, 1),
		"bad serial number":   strings.Replace(valid, `urn:uuid:99d8`, `urn:uuid:zz`, 1),
		"bad component type":  strings.Replace(valid, `"library"`, `"module"`, 1),
		"date-time format":    strings.Replace(valid, `"version": 1,`, `"version": 1, "metadata": {"timestamp": "yesterday"},`, 1),
		"missing specVersion": strings.Replace(valid, `"specVersion": "1.6",`, ``, 1),
	} {
		assert.Error(t, Validate([]byte(doc)), name)
	}
}
