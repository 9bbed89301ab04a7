package sbom

import (
	"bytes"
	"encoding/json"
	"os"
	"testing"

	cdx "github.com/CycloneDX/cyclonedx-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestMerge(t *testing.T) {
	b := goodBOM()
	b.Metadata.Component.BOMRef = "pkg:golang/github.com/zonegate/zonegate@v1.2.0?type=module#cmd/zonegate"
	for i := range *b.Components {
		c := &(*b.Components)[i]
		c.BOMRef = "pkg:golang/" + c.Name + "@" + c.Version + "?type=module"
		c.Type = cdx.ComponentTypeLibrary
	}
	deps := []cdx.Dependency{{Ref: b.Metadata.Component.BOMRef, Dependencies: &[]string{(*b.Components)[0].BOMRef, (*b.Components)[1].BOMRef}}}
	b.Dependencies = &deps
	var zg bytes.Buffer
	require.NoError(t, cdx.NewBOMEncoder(&zg, cdx.BOMFileFormatJSON).EncodeVersion(b, cdx.SpecVersion1_6))

	// The shape of what Buildroot's utils/generate-cyclonedx writes for an
	// image with busybox and zonegate.
	image, err := os.ReadFile("testdata/buildroot-image.cdx.json")
	require.NoError(t, err)
	out, err := Merge(image, zg.Bytes(), "zonegate", "file:///usr/share/zonegate/zonegate.cdx.json")
	require.NoError(t, err)
	require.NoError(t, Validate(out))

	var got cdx.BOM
	require.NoError(t, json.Unmarshal(out, &got))
	require.Len(t, *got.Components, 2, "the image's own components stay")
	zgc := (*got.Components)[1]
	assert.Equal(t, "zonegate", zgc.BOMRef)
	assert.Equal(t, b.Metadata.Component.PackageURL, zgc.PackageURL)
	require.NotNil(t, zgc.Components)
	var names []string
	for _, c := range *zgc.Components {
		names = append(names, c.Name+" "+c.Version)
	}
	assert.Equal(t, []string{"github.com/spf13/cobra v1.10.2", "example.org/new v1.0.1", "std go1.26.8"}, names)
	require.NotNil(t, zgc.ExternalReferences)
	assert.Equal(t, cdx.ERTypeBOM, (*zgc.ExternalReferences)[0].Type)
	for _, d := range *got.Dependencies {
		if d.Ref == "zonegate" {
			assert.Equal(t, []string{(*b.Components)[0].BOMRef, (*b.Components)[1].BOMRef}, *d.Dependencies)
		}
	}

	_, err = Merge(image, zg.Bytes(), "zonegate-x", "")
	assert.ErrorContains(t, err, `no component with bom-ref "zonegate-x"`)
}
