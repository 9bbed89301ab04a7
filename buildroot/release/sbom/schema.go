package sbom

import (
	"bytes"
	"embed"
	"fmt"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// The CycloneDX 1.6 JSON schema and the two schemas it refers to, from the
// CycloneDX specification (release 1.6.2; see schema/README.md).
//
//go:embed schema/*.json
var schemaFiles embed.FS

const schemaBase = "http://cyclonedx.org/schema/"

var (
	schemaOnce sync.Once
	bomSchema  *jsonschema.Schema
	schemaErr  error
)

// Validate checks a JSON document against the CycloneDX 1.6 JSON schema,
// formats (date-time, iri-reference, idn-email) included.
func Validate(doc []byte) error {
	schemaOnce.Do(func() { bomSchema, schemaErr = compileSchema() })
	if schemaErr != nil {
		return schemaErr
	}
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(doc))
	if err != nil {
		return fmt.Errorf("not JSON: %w", err)
	}
	return bomSchema.Validate(v)
}

func compileSchema() (*jsonschema.Schema, error) {
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	for _, name := range []string{"bom-1.6.schema.json", "spdx.schema.json", "jsf-0.82.schema.json"} {
		b, err := schemaFiles.ReadFile("schema/" + name)
		if err != nil {
			return nil, err
		}
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
		if err != nil {
			return nil, fmt.Errorf("schema %s: %w", name, err)
		}
		if err := c.AddResource(schemaBase+name, doc); err != nil {
			return nil, fmt.Errorf("schema %s: %w", name, err)
		}
	}
	s, err := c.Compile(schemaBase + "bom-1.6.schema.json")
	if err != nil {
		return nil, fmt.Errorf("compile the CycloneDX schema: %w", err)
	}
	return s, nil
}
